package limits

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/pattern"
	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/reqbody"
	"github.com/windhover/windhover/internal/rw"
)

// contextKey is the type of the package's context keys: a pointer, so that
// comparing one costs nothing and no other package can make it.
type contextKey struct{ name string }

// bodyKey finds a request's [bodyRequest] in its context.
var bodyKey = &contextKey{"body"}

// bodyRequest is the body limit of one request: the first limits handler the
// request meets makes it, and every limits handler further in, and
// [SetMaxRequestBodySize], change the same limit until the body is first
// read. It holds, in one allocation, the shallow copy of the request handed
// on (so that the caller's request is not modified), its limited body, and
// the response wrapper that tells whether a 413 can still be sent.
//
// It is also the handed-on request's context: the parent's, answering for
// bodyKey. The state is found through r.Context() wherever a request goes,
// whatever middleware wraps its Body or its ResponseWriter in between, and
// without context.WithValue, which would cost an allocation and a second
// copy of the request.
type bodyRequest struct {
	context.Context
	req      http.Request
	body     limitedBody
	w        rw.Writer
	l        *Limiter // whose limit is in force: it counts a refusal
	owner    *Limiter // whose Wire follows the connection: it counts the Wire's decisions
	exceeded atomic.Bool
	failed   atomic.Pointer[Error] // the Wire's decision on the body
	started  bool                  // the body has been read from: its limit is fixed
}

// Value returns br for bodyKey, and the parent's value for any other key.
func (br *bodyRequest) Value(key any) any {
	if key == bodyKey {
		return br
	}
	return br.Context.Value(key)
}

// bodyRequestOf returns the body state that a limits handler put on r, or
// nil if none did.
func bodyRequestOf(r *http.Request) *bodyRequest {
	if b, ok := r.Body.(*limitedBody); ok {
		return b.br
	}
	br, _ := r.Context().Value(bodyKey).(*bodyRequest)
	return br
}

// limitBody serves r, which has a body, behind l's body limit. The first
// limits handler r meets puts the limit on its body; one further in only
// changes that limit, so that the innermost setting holds when the body is
// first read, whatever the order of the handlers and of the middleware
// between them.
func (h *handler) limitBody(w http.ResponseWriter, r *http.Request) {
	l := h.l
	if br := bodyRequestOf(r); br != nil {
		if !br.started {
			br.body.limit, br.l = literalBodyLimit(l.bodyLimit(r)), l
			if l.ownsWire(br.body.wire) {
				br.owner = l
			}
		} else if h.late.CompareAndSwap(false, true) {
			slog.Warn("windhover/limits: a body limit could not be set, because something in front of it had already read from the body; "+
				"the limit in force when the reading began still holds (reported once for this handler)",
				slog.String("limit", strconv.FormatInt(l.bodyLimit(r), 10)), slog.String("path", r.URL.Path))
		}
		h.serveNext(w, r)
		return
	}
	br := &bodyRequest{Context: r.Context(), l: l}
	br.req = *r.WithContext(br)
	br.body = limitedBody{rc: r.Body, br: br, limit: literalBodyLimit(l.bodyLimit(r)), wire: wireConn(r)}
	if l.ownsWire(br.body.wire) {
		br.owner = l
	}
	br.req.Body = &br.body
	br.w.Reset(w, nil)
	defer pattern.HandBack(r, &br.req)
	h.serveNext(br.w.ResponseWriter(), &br.req)
	br.finish(r)
}

// finish refuses, once the handler has returned, a declared length over the
// final limit that nobody read (so that net/http does not read it after),
// and answers 413 for a refused body if the handler wrote nothing.
func (br *bodyRequest) finish(r *http.Request) {
	unread := !br.started && br.body.limit >= 0 && br.req.ContentLength > br.body.limit
	if unread || br.exceeded.Load() || br.failed.Load() != nil {
		// A refusal counted, reported to OnReject and perhaps answered
		// after the policy inside read the clock as the handler returned:
		// the request's duration covers it all the same.
		rw.ReadingsOf(br.w.Unwrap()).Late()
	}
	if unread {
		br.refuse(br.req.ContentLength, nil)
	}
	if br.exceeded.Load() && !br.w.Committed() {
		writeRefusal(&br.w, r, http.StatusRequestEntityTooLarge)
	}
	if err := br.failed.Load(); err != nil && !br.w.Committed() {
		writeRefusal(&br.w, r, err.Reason.Status())
	}
}

// refuse counts a body over the limit and makes sure the connection is not
// reused: the client may still be sending a body nobody will read. mbe is
// the error the handler's Read returned, if one did.
func (br *bodyRequest) refuse(size int64, mbe *http.MaxBytesError) {
	br.exceeded.Store(true)
	err := &Error{Reason: ReasonBodyTooLarge, Limit: br.body.limit, Size: size}
	if mbe != nil {
		err.Err = mbe
	}
	if br.w.Committed() {
		// The handler answered first (finish, for a body nobody read): the
		// client has its status, not 413.
		err.Status = br.w.Status()
	}
	br.l.reject(&br.req, err)
	closeAfterReply(br.w.Unwrap())
	refuse.StopReading(br.w.Unwrap(), &br.req)
}

// wireFailed fails the body for e, the Wire's decision on it (a broken
// chunked framing, trailers over the header limits), and reports e with the
// request if the Limiter whose Wire decided is among the request's limits
// handlers (otherwise the connection's close reports it). The connection
// cannot carry another request: it closes after the answer, which is e's
// status if the handler writes nothing.
func (br *bodyRequest) wireFailed(e *h1wire.Error) *Error {
	err := wireError(e, nil)
	br.failed.Store(err)
	if br.owner != nil && br.body.wire.ClaimBodyError() != nil {
		br.owner.reject(&br.req, err)
	}
	closeAfterReply(br.w.Unwrap())
	return err
}

// limitedBody is a request body under a size limit that may change until the
// first Read. It fails a read past the limit with *http.MaxBytesError, as
// http.MaxBytesReader does, so handlers that know that error keep working.
type limitedBody struct {
	rc    io.ReadCloser
	br    *bodyRequest
	limit int64        // negative: none
	n     int64        // bytes returned so far
	wire  *h1wire.Conn // counts the body as Kestrel does, if it follows the connection
	err   error
}

// Read reads from the body, failing once the bytes read would pass the limit,
// or at once, before reading anything, if the declared Content-Length does:
// net/http then never sends a "100 Continue".
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.br.started {
		b.br.started = true
		if cl := b.br.req.ContentLength; b.limit >= 0 && cl > b.limit {
			return 0, b.exceed(cl)
		}
	}
	if b.wire != nil {
		return b.readCounted(p)
	}
	if b.limit < 0 {
		n, err := b.rc.Read(p)
		b.n += int64(n)
		return n, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte more than the limit allows tells a body that ends exactly at
	// the limit from one that goes past it.
	remaining := b.limit - b.n
	if remaining < int64(len(p)) {
		p = p[:remaining+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= remaining {
		b.n += int64(n)
		if err != nil {
			b.err = err
		}
		return n, err
	}
	b.n = b.limit
	return int(remaining), b.exceed(-1)
}

// readCounted reads from a body whose bytes the Wire counts as Kestrel
// does, as they come from the connection: a chunked body's chunk-size
// lines, extensions and CRLFs with its data. A read fails once that count
// passes the limit (what net/http has read ahead of the handler, at most
// its 4 KiB buffer, included, as Kestrel's count includes what it has read
// ahead), so a body that ends exactly at the limit passes. A body without a
// byte of data (an empty chunked body, whose framing is 5 bytes) is not one
// to refuse, as [NoBody] promises. A read the Wire failed fails with the
// Wire's decision.
func (b *limitedBody) readCounted(p []byte) (int, error) {
	if b.limit >= 0 {
		if len(p) == 0 {
			return 0, nil
		}
		// Ask for no more than can still fit, and a byte: net/http's
		// chunked reader would otherwise wait for the rest of a chunk
		// that already went past the limit.
		if room := b.limit - max(b.n, b.wire.BodyBytes()); room < int64(len(p)) {
			p = p[:max(room, 0)+1]
		}
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.limit >= 0 && b.n > 0 {
		if counted := b.wire.BodyBytes(); counted > b.limit {
			return 0, b.exceed(counted)
		}
	}
	if err != nil && err != io.EOF {
		if e := b.wire.BodyError(); e != nil {
			b.err = b.br.wireFailed(e)
			return 0, b.err
		}
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close closes the underlying body.
func (b *limitedBody) Close() error { return b.rc.Close() }

// exceed fails the body for good and refuses it.
func (b *limitedBody) exceed(size int64) error {
	mbe := &http.MaxBytesError{Limit: b.limit}
	b.err = mbe
	b.br.refuse(size, mbe)
	return mbe
}

// closeAfterReply tells net/http's HTTP/1 server to close the connection after
// this response, even if the handler already sent its header. The only public
// way to reach that switch is an http.MaxBytesReader that overflows, which
// "tells the ResponseWriter to close the connection after the limit has been
// reached"; it must be given net/http's own writer, so w is unwrapped first.
// On HTTP/2 it does nothing, and nothing is needed: the stream ends alone.
func closeAfterReply(w http.ResponseWriter) {
	for range 16 {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	var one [1]byte
	_, _ = http.MaxBytesReader(w, io.NopCloser(strings.NewReader("x")), 0).Read(one[:])
}

// literalBodyLimit turns a body limit as users give it into the one the
// package keeps: n bytes, 0 for none allowed ([NoBody]), negative for no
// limit.
func literalBodyLimit(n int64) int64 {
	if n == NoBody {
		return 0
	}
	return n
}

// SetMaxRequestBodySize changes the body size limit of r, a request passed
// on by a [Limiter]'s handler, to n bytes: 0 (or [NoBody]) allows no body at
// all, and [Unlimited] (any other negative n) removes the limit.
// Like Kestrel's IHttpMaxRequestBodySizeFeature it may raise or lower the
// limit only until the body is first read, and returns [ErrBodyReadStarted]
// after. Call it from the handler's goroutine before reading the body.
//
// It finds the limit through r's context, so it works whatever middleware
// stands between the limits handler and the caller, even one that wraps the
// body (timeouts, metrics with RequestSizes) or hands on a copy of the
// request. Until the first Read the declared Content-Length is not checked,
// so a raise here admits a declared body that the limit in force when the
// request arrived would have refused; a lower limit applies to it at the
// first Read.
//
// It returns nil for a request without a body, and [ErrNoBodyLimit] if r's
// body is not under a Limiter (no limits handler in front, or a middleware
// gave the request a context not derived from the one it was handed).
func SetMaxRequestBodySize(r *http.Request, n int64) error {
	if reqbody.None(r) {
		return nil
	}
	br := bodyRequestOf(r)
	if br == nil {
		return ErrNoBodyLimit
	}
	if br.started {
		return ErrBodyReadStarted
	}
	br.body.limit = literalBodyLimit(n)
	return nil
}
