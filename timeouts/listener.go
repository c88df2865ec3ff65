package timeouts

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/netconn"
)

// Listener returns ln with each plaintext connection it accepts timed as
// Kestrel times it, measured on the bytes the client sends:
//
//   - KeepAliveTimeout from the accept until the first byte of the first
//     request, and from the moment the server starts waiting for the next
//     request (its response being out) until that request's first byte; a
//     connection that sends nothing in time is closed without an answer,
//     counted in [Stats.KeepAliveTimeouts].
//   - RequestHeadersTimeout from a request's first byte until the end of its
//     head; a head not in by then, also one stopped in the middle of a line,
//     gets 408 and Connection: close, and the connection closes, counted in
//     [Stats.RequestHeadersTimeouts].
//
// Each decision is passed to [Config.OnReject] with a nil request and a
// [*TimeoutError]. A negative KeepAliveTimeout or RequestHeadersTimeout leaves
// that wait to the server's own deadlines; a Policy with both negative (as
// from [MinDataRates]) has nothing to time, and Listener returns ln itself.
//
// net/http alone times a new connection's first head with ReadHeaderTimeout
// from the accept (so a client that connects early and sends later is cut),
// waits between requests under IdleTimeout until a request's fourth byte,
// closes silently when a head is late, and answers 400 to one cut mid-line.
// [Policy.Apply] still sets IdleTimeout and ReadHeaderTimeout: the Listener
// puts its own read deadline on the connection while a head is awaited and
// gives the server's back at the head's end, so those stay the bounds where
// the Listener does not follow the connection (TLS, HTTP/2, after a hijack)
// and on servers without it, and the values Apply sets never cut a wait the
// Listener allows. A server's own shorter values, which Apply keeps, bound
// the Listener's waits too, as net/http would run them (see [Policy.Apply]):
// it never lets a client wait longer than the server alone would. Requests
// on plaintext HTTP/1 connections the Policy does not time are counted in
// [Stats.UntimedRequests].
//
// Over TLS the connection's bytes are records: put the Listener under
// crypto/tls (srv.ServeTLS(pol.Listener(ln), ...), or
// tls.NewListener(pol.Listener(ln), cfg)), where it passes a connection that
// starts with a TLS handshake through untouched, and the server's own
// deadlines (ReadHeaderTimeout, IdleTimeout) time its heads; a *tls.Conn
// accepted from ln is handed on as it is. HTTP/2 connections, with prior
// knowledge or over TLS, are passed through too: their streams have no heads
// to time this way. A connection a handler hijacks is no longer timed.
//
// A connection that another windhover listener (limits.Limiter.Listener)
// already follows is joined rather than wrapped again, so the two stack in
// either order into one wrapper that reads each head once; each counts its
// own decisions. The connections keep the optional methods net/http relies
// on (ReadFrom for sendfile, CloseWrite) and offer NetConn to reach the one
// they wrap.
//
// The listener returned has an Unwrap method returning ln; Close and Addr
// are ln's. It is safe for concurrent use.
func (p *Policy) Listener(ln net.Listener) net.Listener {
	if p.wire == nil {
		return ln
	}
	return &listener{Listener: ln, p: p}
}

type listener struct {
	net.Listener
	p *Policy
}

// Unwrap returns the wrapped listener.
func (l *listener) Unwrap() net.Listener { return l.Listener }

// Accept waits for the next connection and returns it timed.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return l.p.time(c), nil
}

// time has the Policy's Wire time c: joined to the wrapper another
// windhover listener put on c, or wrapping it. A *tls.Conn (or a wrapper
// of one) must reach net/http as it is: its bytes above crypto/tls are out
// of reach, and net/http must see its type, or its ConnectionState.
func (p *Policy) time(c net.Conn) net.Conn {
	if _, ok := netconn.Find[*tls.Conn](c); ok {
		return c
	}
	c, _ = p.wire.Follow(c)
	return c
}

// timed reports whether p times the heads of c, a connection net/http is
// about to serve: whether it carries a wrapper p's Wire times, which it
// returns (nil if none). TLS connections are not plaintext HTTP/1: the
// server's deadlines time them by design.
func (p *Policy) timed(c net.Conn) (*h1wire.Conn, bool) {
	if p.wire == nil {
		return nil, true
	}
	if _, ok := netconn.Find[*tls.Conn](c); ok {
		return nil, true
	}
	if wc, ok := netconn.Find[*h1wire.Conn](c); ok && p.wire.Times(wc) {
		return wc, true
	}
	return nil, false
}

// decide counts nothing (the Wire does) and reports e to OnReject.
func (p *Policy) decide(e *h1wire.Error) {
	te := &TimeoutError{Addr: e.Addr, Limit: p.keepAlive}
	if e.Reason == h1wire.ReasonRequestHeadersTimeout {
		te.headers, te.Limit = true, p.headers
	}
	if e.Timer > 0 {
		te.Limit = e.Timer // the server's own bound, where sooner
	}
	p.onReject(nil, te)
}

// untimedRequest counts a plaintext HTTP/1 request whose connection p does
// not time, and reports the first.
func (p *Policy) untimedRequest(r *http.Request) {
	p.untimed.Add(1)
	if p.warnedTiming.Load() || !p.warnedTiming.CompareAndSwap(false, true) {
		return
	}
	slog.Warn("windhover/timeouts: a plaintext HTTP/1 connection did not come through timeouts.Policy.Listener, so net/http alone times its request heads: "+
		"ReadHeaderTimeout from the accept rather than KeepAliveTimeout until the first byte, a silent close rather than 408 "+
		"(counted in Stats.UntimedRequests). Serve the server on pol.Listener(ln)",
		slog.String("remote", r.RemoteAddr))
}
