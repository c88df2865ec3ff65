package limits

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/windhover/windhover/internal/h1wire"
)

// newWire returns the connection wrapper that measures HTTP/1 request heads
// on the wire with l's request-head limits, for l's Listener, or nil if l
// has none (a Limiter for a connection, upgrade or body limit alone).
// Kestrel's checks on a head (obsolete line folding, Host, the target's
// form, the version) come with it: Kestrel has no switch for them.
func (l *Limiter) newWire() *h1wire.Wire {
	if l.policies&headPolicy == 0 {
		return nil
	}
	return h1wire.New(h1wire.Config{
		MaxRequestLineSize:         l.s.lineSize,
		MaxRequestHeadersTotalSize: l.s.headersSize,
		MaxRequestHeaderCount:      l.s.headerCount,
		Parts:                      h1wire.PartHead,
		OnReject:                   l.wireDecided,
	})
}

// wrap puts c, a connection l's Listener admitted (l's own wrapper, holding
// its slot), under l's Wire, or has l's Wire join the wire Conn already
// among c's layers (another package's listener, stacked under l's, made
// one): one Conn follows each connection, whatever the order of the
// listeners.
func (l *Limiter) wrap(lc *conn) net.Conn {
	if l.wire == nil {
		return lc
	}
	c, wc := l.wire.Follow(lc)
	lc.wire = wc
	return c
}

// wireReasons maps the decisions of the wire's head part to l's reasons.
// The timers' reasons are the timeouts package's, never l's Wire's.
var wireReasons = [h1wire.NumReasons]Reason{
	h1wire.ReasonRequestLineTooLong: ReasonRequestLineTooLong,
	h1wire.ReasonHeadersTooLarge:    ReasonHeadersTooLarge,
	h1wire.ReasonTooManyHeaders:     ReasonTooManyHeaders,
	h1wire.ReasonObsFold:            ReasonObsFold,
	h1wire.ReasonInvalidHost:        ReasonInvalidHost,
	h1wire.ReasonHostMismatch:       ReasonHostMismatch,
	h1wire.ReasonInvalidTarget:      ReasonInvalidTarget,
	h1wire.ReasonHTTPVersion:        ReasonHTTPVersionNotSupported,
	h1wire.ReasonInvalidChunkedBody: ReasonInvalidChunkedBody,
	h1wire.ReasonLengthRequired:     ReasonLengthRequired,

	h1wire.ReasonRequestHeadersTimeout: numReasons,
	h1wire.ReasonKeepAliveTimeout:      numReasons,
}

// wireError is the refusal for e, a decision of the wire; addr is the
// client's address for a refusal reported without a request.
func wireError(e *h1wire.Error, addr net.Addr) *Error {
	return &Error{Reason: wireReasons[e.Reason], Limit: e.Limit, Size: e.Size, Trailer: e.Trailer, Addr: addr}
}

// bodyDecision reports whether e failed a body's reads rather than refused
// a head: it belongs to a request, whose body's reader reports it.
func bodyDecision(e *h1wire.Error) bool {
	return e.Trailer || e.Reason == h1wire.ReasonInvalidChunkedBody
}

// wireDecided is the OnReject of l's Wire, called on the connection's
// goroutine before the wire answers: a refused head is counted and reported
// as a refused connection is, without a request, since net/http never made
// one. A body's decision waits for the body's reader, which reports it with
// its request ([bodyRequest.wireFailed]), or for the connection's close
// ([conn.Close]).
func (l *Limiter) wireDecided(e *h1wire.Error) {
	if bodyDecision(e) || wireReasons[e.Reason] == numReasons {
		return
	}
	l.reject(nil, wireError(e, e.Addr))
}

// wireConn returns the wire Conn that follows r's connection, if r is an
// HTTP/1 request on a plaintext connection that one still follows.
func wireConn(r *http.Request) *h1wire.Conn {
	if r.ProtoMajor != 1 {
		return nil
	}
	wc := h1wire.FromContext(r.Context())
	if wc == nil || !wc.Tracking() {
		return nil
	}
	return wc
}

// headOnWire reports whether l's Wire measured r's head, on the bytes as
// sent: the Handler then leaves r's line and fields alone. Otherwise, for a
// plaintext HTTP/1 request, it counts r as measured after net/http's parse,
// and warns once.
func (l *Limiter) headOnWire(r *http.Request) bool {
	if l.ownsWire(wireConn(r)) {
		return true
	}
	if r.ProtoMajor == 1 && r.TLS == nil && l.measuresHead() {
		l.inexact.Add(1)
		if !l.warned.Load() && l.warned.CompareAndSwap(false, true) {
			slog.Warn("windhover/limits: a plaintext HTTP/1 request reached the Handler without this Limiter's Listener under it "+
				"(a server started without Limiter.Listener, a server not given to Limiter.Apply, whose ConnContext brings the connection to the Handler, "+
				"or a route's Limiter behind another's); its request line and header fields are measured after net/http's parse, not as sent "+
				"(counted in Stats.InexactHTTP1Requests). Serve through Limiter.Listener and Limiter.Apply for Kestrel's exact counting and refusals",
				slog.String("path", r.URL.Path))
		}
	}
	return false
}

// ownsWire reports whether wc's heads are measured by l's Wire, which then
// counts its decisions.
func (l *Limiter) ownsWire(wc *h1wire.Conn) bool {
	return wc != nil && l.wire != nil && wc.HeadWire() == l.wire
}

// measuresHead reports whether l has a request-head limit switched on.
func (l *Limiter) measuresHead() bool {
	return l.s.lineSize >= 0 || l.s.headersSize >= 0 || l.s.headerCount >= 0
}

// connContext is chained into http.Server.ConnContext by Apply: it puts
// the wire Conn under each connection into the connection's context, for
// the Handler, unless another package's hook already did.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if h1wire.FromContext(ctx) != nil {
		return ctx
	}
	return h1wire.ConnContext(ctx, c)
}
