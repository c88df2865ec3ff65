package limits

import (
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/reqbody"
	"github.com/windhover/windhover/internal/star"
)

// Handler returns next behind l's request limits, checked in this order:
//
//   - first, if l retires connections (MaxConnectionAge,
//     MaxRequestsPerConnection), the request is counted against its
//     connection's lifetime, which [Limiter.Apply] starts, and the one that
//     reaches a limit is answered with "Connection: close" (over HTTP/2:
//     GOAWAY), and served;

//   - a request line over MaxRequestLineSize: 414;
//   - more than MaxRequestHeaderCount header fields: 431;
//   - header fields over MaxRequestHeadersTotalSize bytes: 431;
//   - an upgrade request (one without a body: a request with one is never
//     an upgrade) while no upgrade slot is free, or upgrades are disabled:
//     503, before the handler could write a 101;
//   - a body over the limit: the handler's first Read fails with
//     *http.MaxBytesError before a byte is read if the declared
//     Content-Length is over it (so a client that asked for "100 Continue"
//     gets none), or as soon as the bytes read pass it otherwise; if the
//     handler then writes nothing, the client gets 413. A declared length
//     over the limit that the handler never reads gets 413 too if the
//     handler wrote nothing.
//
// Over HTTP/1 each of these closes the connection after the reply
// ("Connection: close"); over HTTP/2 only the stream ends.
//
// A plaintext HTTP/1.x request whose connection came through l's
// [Limiter.Listener] (on a server given to [Limiter.Apply]) had its request
// line and header fields measured on the wire, as the client sent them, and
// any over a limit refused there: the Handler does not measure them again.
// Any other HTTP/1 request is measured here after net/http's parse (see the
// package documentation), and counted in Stats.InexactHTTP1Requests if it
// came over plaintext. A chunked body that such a connection finds broken,
// or whose trailers cross the header limits, fails its Read with an [*Error]
// (ReasonInvalidChunkedBody, ReasonTooManyHeaders, ReasonHeadersTooLarge)
// and, if the handler then writes nothing, gets 400 or 431 and the
// connection closes.
//
// Over HTTP/2 the header fields are counted as Kestrel counts them, as the
// client sent them: every field, the pseudo-header fields included, each the
// length of its name and of its value; and every "; "-separated crumb of the
// Cookie value net/http joined counts as one "cookie" field, which is what a
// client that splits its cookies (RFC 9113, section 8.2.3) sent. The
// pseudo-header fields :method, :scheme, :authority and :path stand for the
// request line as well.
//
// The body limit is the request's until the body is first read, as Kestrel's
// IHttpMaxRequestBodySizeFeature is: a limits handler further in (a route's
// own MaxRequestBodySize, under a router behind this one) replaces it, and so
// does [SetMaxRequestBodySize]; the last one set before the first Read
// holds, whatever the order of the handlers and of middleware that wraps the
// body or the ResponseWriter between them.
//
// A request that passes reaches next unchanged, except that one with a body
// gets, from the first limits handler it meets, a shallow copy whose Body
// enforces the limit and whose ResponseWriter is wrapped, keeping every
// optional interface of the original and an Unwrap method for
// http.ResponseController; a limits handler further in hands it on as it is.
// When next returns, the copy's Pattern (set by a ServeMux further in) is set
// on the original, as if the ServeMux had been handed it, so that middleware
// in front sees the route.
// A request without a body is handed on as is, without allocating.
//
// An "OPTIONS *" request that passes is answered 200 here, as net/http's own
// handler would, when next is not one of windhover's handlers: the
// application never sees it. [Limiter.Apply] routes such requests to the
// Handler (http.Server.DisableGeneralOptionsHandler); on a server that still
// answers them itself, the Handler logs a warning at its first request.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return &handler{l: l, next: next, last: star.Last(next)}
}

type handler struct {
	l     *Limiter
	next  http.Handler
	last  bool // next is none of windhover's handlers: answer "OPTIONS *" here
	guard star.Guard
	late  atomic.Bool // a body limit that came after the first Read was reported
}

// HandlesOptionsStar marks the handler as one of windhover's.
func (*handler) HandlesOptionsStar() {}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "limits")
	l := h.l
	if l.hasLifetime() {
		l.retire(w, r)
	}
	if l.policies&headPolicy != 0 && !l.headOnWire(r) {
		if err := l.checkHead(r); err != nil {
			l.refuseRequest(w, r, err)
			return
		}
	}
	if l.policies&upgradePolicy != 0 && isUpgrade(r) {
		l.serveUpgrade((*bodyStage)(h), w, r)
		return
	}
	(*bodyStage)(h).ServeHTTP(w, r)
}

// bodyStage is the handler's last stage: the body limit, then next.
type bodyStage handler

// ServeHTTP limits r's body and hands it on. An HTTP/1 upgrade request's
// body is a body like any other (the switch comes after it), and is limited:
// exempting it would let any client past the limit with an Upgrade field.
// Only an HTTP/2 extended CONNECT is exempt, whose "body" is the tunnel.
func (h *bodyStage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.l.policies&bodyPolicy == 0 || reqbody.None(r) || isTunnel(r) {
		(*handler)(h).serveNext(w, r)
		return
	}
	(*handler)(h).limitBody(w, r)
}

// serveNext hands r to next, or answers it if it is an "OPTIONS *" that
// would otherwise leave windhover's handlers.
func (h *handler) serveNext(w http.ResponseWriter, r *http.Request) {
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// Check applies l's request line, header and declared body size limits to r
// and returns an [*Error] for the first one it fails, counted and reported to
// OnReject as the Handler would. It is for callers that answer refusals
// themselves; [Error.Reason] tells which status fits. As in the Handler, a
// head that l's Listener measured on the wire is not measured again.
func (l *Limiter) Check(r *http.Request) error {
	if l.policies&headPolicy != 0 && !l.headOnWire(r) {
		if err := l.checkHead(r); err != nil {
			l.reject(r, err)
			return err
		}
	}
	if l.policies&bodyPolicy != 0 && !reqbody.None(r) && !isTunnel(r) {
		if limit := l.bodyLimit(r); limit >= 0 && r.ContentLength > limit {
			err := &Error{Reason: ReasonBodyTooLarge, Limit: limit, Size: r.ContentLength}
			l.reject(r, err)
			return err
		}
	}
	return nil
}

// bodyLimit returns the body limit for r before its handler runs.
func (l *Limiter) bodyLimit(r *http.Request) int64 {
	if f := l.s.bodySizeFunc; f != nil {
		if n := f(r); n != 0 {
			return literalBodyLimit(n)
		}
	}
	return l.s.bodySize
}

// Policy names the part of the package that refuses for reason r: "limits"
// for a [Limiter], "concurrency" for a [ConcurrencyLimiter], "rate" for a
// [RateLimiter]. It is the policy label their metrics and logs carry.
func (r Reason) Policy() string {
	switch {
	case r == ReasonRateLimited || r == ReasonRateStoreFailed:
		return "rate"
	case r >= ReasonConcurrencyLimit && r <= ReasonRequestQueueCanceled:
		return "concurrency"
	}
	return "limits"
}

// Status returns the HTTP status that answers a refusal for reason r, or 0 for
// the connection reasons, which are answered without one.
func (r Reason) Status() int {
	switch r {
	case ReasonUpgradeLimit, ReasonUpgradesDisabled, ReasonConcurrencyLimit, ReasonRequestQueueFull,
		ReasonRequestQueueTimeout, ReasonRequestQueueCanceled, ReasonRateStoreFailed:
		return http.StatusServiceUnavailable
	case ReasonRateLimited:
		return http.StatusTooManyRequests
	case ReasonRequestLineTooLong:
		return http.StatusRequestURITooLong
	case ReasonTooManyHeaders, ReasonHeadersTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonObsFold, ReasonInvalidHost, ReasonHostMismatch, ReasonInvalidTarget, ReasonInvalidChunkedBody, ReasonLengthRequired:
		return http.StatusBadRequest
	case ReasonHTTPVersionNotSupported:
		return http.StatusHTTPVersionNotSupported
	}
	return 0
}

// refuseRequest counts err and answers it.
func (l *Limiter) refuseRequest(w http.ResponseWriter, r *http.Request, err *Error) {
	l.reject(r, err)
	writeRefusal(w, r, err.Reason.Status())
}

// writeRefusal answers with code and a one-line plain text body. Over HTTP/1
// it also closes the connection, at once, without waiting for an unread body:
// after a refusal the rest of what the client sends cannot be trusted to
// frame a next request.
func writeRefusal(w http.ResponseWriter, r *http.Request, code int) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
		refuse.SkipBody(w, r)
	}
	http.Error(w, http.StatusText(code), code)
}

// writeTooBusy answers a request turned away by load (a rate or concurrency
// limit) with code and, unless retryAfter is empty, a Retry-After field.
// Unlike writeRefusal it keeps the connection open: the request was well
// formed, and making its client reconnect would only add to the load; but
// not for an unread request body, which net/http would read at the client's
// pace.
func writeTooBusy(w http.ResponseWriter, r *http.Request, code int, retryAfter string) {
	refuse.SkipBody(w, r)
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, http.StatusText(code), code)
}

// retryAfter rounds d up to whole seconds, at least one, as Retry-After's
// delay-seconds must be, and returns it both as a duration and as the field
// value.
func retryAfter(d time.Duration) (time.Duration, string) {
	s := ceilSeconds(d)
	if s < 1 {
		s = 1
	}
	return time.Duration(s) * time.Second, strconv.FormatInt(s, 10)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
