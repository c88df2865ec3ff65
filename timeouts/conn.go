package timeouts

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/windhover/windhover/internal/connctx"
	"github.com/windhover/windhover/internal/rw"
)

// [Policy.Apply]'s ConnContext keeps, in the connection's context
// (connctx.Conn), the net.Conn net/http serves the connection on: the only
// way to its deadlines when a ResponseWriter without an Unwrap method hides
// net/http's from http.ResponseController. A plaintext connection whose
// heads a Policy with timers does not time, one that did not come through
// its [Policy.Listener], is kept as an untimedConn naming that Policy, so
// that each Policy on a server finds its own verdict.
type untimedConn struct {
	p *Policy
	c net.Conn
}

// servedConn returns the connection Apply kept in ctx; nil if Apply did
// not see it.
func servedConn(ctx context.Context) net.Conn {
	switch c := connctx.Get(ctx, connctx.Conn).(type) {
	case *untimedConn:
		return c.c
	case net.Conn:
		return c
	}
	return nil
}

// untimedBy reports whether p's Apply found that p does not time the heads
// of the connection that carries ctx.
func untimedBy(ctx context.Context, p *Policy) bool {
	for v := connctx.Of(ctx); v != nil; v = v.Next() {
		if u, ok := v.Slot(connctx.Conn).(*untimedConn); ok && u.p == p {
			return true
		}
	}
	return false
}

// inspect looks through w the way http.ResponseController does. It reports
// whether small writes are known to stay in net/http's buffer (w is net/http's
// writer under nothing but windhover's wrappers, none of which writes through)
// and whether read and write deadlines reach the connection. A writer with no
// Unwrap that can enable full duplex and take deadlines is taken to be
// net/http's.
func inspect(w http.ResponseWriter) (knownBuffer, deadlines bool) {
	foreign := false
	for range 16 {
		if rw.IsWriter(w) {
			w = w.(interface{ Unwrap() http.ResponseWriter }).Unwrap()
			continue
		}
		if _, ok := w.(interface {
			SetReadDeadline(time.Time) error
			SetWriteDeadline(time.Time) error
		}); ok {
			_, duplex := w.(interface{ EnableFullDuplex() error })
			return !foreign && duplex, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false, false
		}
		foreign = true // someone else's wrapper: it may flush each write
		w = u.Unwrap()
	}
	return false, false
}

// reach finds a way to q's connection deadlines when the writer chain hides
// them: over HTTP/1, the connection [Policy.Apply] put in the context. Over
// HTTP/2 the connection carries other streams and cannot be cut for one, so
// such a request is counted, and reported once, as one the policy cannot
// hold to its rates.
func (q *request) reach(r *http.Request, hasBody bool) {
	if !q.h2 {
		if c := servedConn(r.Context()); c != nil {
			q.conn = c
			return
		}
	}
	p := q.p
	if p.out.IsOff() && (!hasBody || (q.h2 && p.in.IsOff())) {
		return // nothing to enforce
	}
	q.unreachable = true
	p.unenforceable.Add(1)
	if p.warned.Load() || !p.warned.CompareAndSwap(false, true) {
		return
	}
	where := "the server's connections are not in the request's context: call timeouts.Policy.Apply on the server"
	if q.h2 {
		where = "over HTTP/2 the connection carries other streams and cannot be cut for one"
	}
	slog.Warn("windhover/timeouts: a ResponseWriter without an Unwrap method hides net/http's from timeouts.Handler, and "+where+
		"; minimum data rates and unread request bodies are not enforced for such requests (counted in Stats.UnenforceableRequests). "+
		"Give the wrapper an Unwrap method, or put timeouts.Handler outside it",
		slog.String("proto", r.Proto), slog.String("writer", fmt.Sprintf("%T", q.w.Unwrap())))
}

// setReadDeadline sets the read deadline of q's connection (over HTTP/2, of
// its stream), through the writer chain or the connection Apply gave.
func (q *request) setReadDeadline(t time.Time) error {
	if q.conn != nil {
		return q.conn.SetReadDeadline(t)
	}
	return http.NewResponseController(q.w.Unwrap()).SetReadDeadline(t)
}

// setWriteDeadline is setReadDeadline for writes. Over HTTP/1 net/http clears
// the connection's write deadline once a response is out, and sets its own
// read deadlines before each request, so neither reaches the next request.
func (q *request) setWriteDeadline(t time.Time) error {
	if q.conn != nil {
		return q.conn.SetWriteDeadline(t)
	}
	return http.NewResponseController(q.w.Unwrap()).SetWriteDeadline(t)
}

// serverLimits notes when the server's ReadTimeout and WriteTimeout, which
// [Config.KeepServerTimeouts] kept, end this request, so that no deadline the
// policy sets is later. net/http starts both as it reads the request's head,
// a moment before the handler: the limits noted here are that much later.
func (q *request) serverLimits(r *http.Request) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	now := time.Now()
	if srv.ReadTimeout > 0 && q.b != nil {
		q.b.readLimit = now.Add(srv.ReadTimeout)
	}
	if srv.WriteTimeout > 0 {
		q.writeLimit = now.Add(srv.WriteTimeout).UnixNano()
	}
}
