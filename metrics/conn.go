package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/connctx"
	"github.com/windhover/windhover/internal/h1wire"
)

// Apply makes m measure srv's connections: windhover_active_connections,
// windhover_connection_duration_seconds and, once m has made a TLS
// configuration with [Metrics.TLSConfig], the TLS handshake metrics of every
// TLS connection (so give every TLS server m applies to a configuration from
// TLSConfig). windhover_upgraded_connections is the [Metrics.Handler]'s, with
// or without Apply. Call it once per server, before the server starts.
//
// Apply chains two hooks after any already set, which keep working:
// ConnState, to follow each connection from accept to close, and ConnContext,
// to attach a record of the connection to its context, through which the
// [Metrics.Handler] notes the protocol version of the requests and follows
// the connections its handlers hijack to their close.
//
// A connection's duration runs from accept to close, and its series carries
// the state the connection closed in, as net/http's ConnState reports it:
//
//   - "new": before any byte of a request arrived: the client connected and
//     left, or timed out, or its TLS handshake failed (error_type
//     "tls_handshake_failed"), or a connection limit closed it at once;
//   - "idle": between requests: the keep-alive timeout, a client closing its
//     keep-alive connection, or a shutdown closing idle connections;
//   - "active": during or right after a request: a "Connection: close"
//     response, an HTTP/1.0 client, a request net/http refused, a client that
//     left mid-request, a connection cut for a too slow data rate; over
//     HTTP/2, a connection closed while the Handler still served a stream;
//   - "hijacked": taken over by a handler (a WebSocket, say). Behind the
//     Handler the duration runs until the hijacked connection closes, and the
//     connection counts in windhover_upgraded_connections until then;
//     otherwise net/http loses sight of it, and so does m, at the hijack.
//
// network_protocol_version is known once the Handler has seen a request, or
// from the TLS handshake's ALPN; a connection that closes before either has
// it empty.
//
// Apply also sets srv.DisableGeneralOptionsHandler, so that "OPTIONS *"
// requests reach the Handler (and are measured) instead of net/http's
// built-in answer; windhover's handlers answer them as net/http would. It
// returns no error today: every windhover Apply has the same shape, and
// returns an error where the server's settings conflict with the policy's.
func (m *Metrics) Apply(srv *http.Server) error {
	srv.DisableGeneralOptionsHandler = true
	prevContext := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevContext != nil {
			ctx = prevContext(ctx, c)
		}
		return m.open(ctx, c, srv)
	}
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		m.connState(c, state, srv)
		if prevState != nil {
			prevState(c, state)
		}
	}
	return nil
}

// conn is m's record of one connection. Its size is guarded by
// TestConnRecordSize: every idle connection holds one.
type conn struct {
	m        *Metrics
	srv      *http.Server // whose hooks keep the record
	key      net.Conn     // as the ConnState hook sees it
	active   prometheus.Gauge
	start    int64 // the accept, as clock.Nanos reads it
	proto    atomic.Uint32
	tlsVer   atomic.Uint32
	requests atomic.Int32 // requests in m's Handler
	// The last http.ConnState reported (stateMask), and stateSettled once
	// the handshake is settled (handshakeNone or handshakeDone): from then
	// on, a request's Active and Idle are recorded without mu.
	state atomic.Uint32

	mu         sync.Mutex
	verifiedIn time.Duration // how long after start TLSConfig's VerifyConnection passed
	ended      bool
	handshake  uint8 // a handshake* progress
	tlsFailed  bool  // the TLS handshake failed
	inTable    bool  // in m.conns: ConnState cannot find it through an h1wire Conn
	transport  uint8
	netType    uint8
}

// open starts the record of a connection srv just accepted and keeps it in
// ctx, the connection's context, which it returns; a connection whose
// context holds m's record of it for srv already (Apply called twice on one
// server) keeps it. A record of another server, or of another connection,
// in ctx (a connection hijacked and served again, with the hijacking
// request's context as srv's BaseContext) is not this one's.
//
// The ConnState hook finds the record through the h1wire Conn among c's
// layers when the values it keeps are ctx's (in Harden's composition, every
// connection), or else through m's table.
func (m *Metrics) open(ctx context.Context, c net.Conn, srv *http.Server) context.Context {
	if rec := m.recordIn(connctx.Of(ctx), srv); rec != nil && rec.key == c {
		return ctx
	}
	rec := &conn{m: m, srv: srv, key: c, start: clock.Nanos(), transport: transportIndex(c), netType: networkTypeIndex(c)}
	rec.active = m.activeConns.WithLabelValues(rec.labels()...)
	ctx = connctx.With(ctx, connctx.Record, rec)
	if h1wire.ValuesOf(c) != connctx.Of(ctx) {
		rec.inTable = true
		m.conns.add(c, rec)
	}
	settled := uint32(stateSettled) // no handshake to measure
	if _, ok := c.(*tls.Conn); ok && m.tlsMeasured.Load() {
		rec.handshake, settled = handshakeStarted, 0
		m.activeHandshakes.WithLabelValues(rec.labels()...).Inc()
	}
	rec.state.Store(settled | uint32(http.StateNew))
	rec.active.Inc()
	return ctx
}

// connFrom returns m's record of the connection that carries ctx, or nil:
// the one made last, that of the server serving the request.
func (m *Metrics) connFrom(ctx context.Context) *conn {
	return m.recordIn(connctx.Of(ctx), nil)
}

// recordIn returns m's record among the connection's values v, made by
// srv's hooks unless srv is nil, or nil.
func (m *Metrics) recordIn(v *connctx.Values, srv *http.Server) *conn {
	for ; v != nil; v = v.Next() {
		if rec, _ := v.Slot(connctx.Record).(*conn); rec != nil && rec.m == m && (srv == nil || rec.srv == srv) {
			return rec
		}
	}
	return nil
}

// connState is the ConnState hook Apply gives srv. The values of an h1wire
// Conn under c may be those of a connection served before a hijack handed
// c on, by another server or srv itself: a record found there is taken only
// if it is srv's and c's; otherwise open put c's in the table.
func (m *Metrics) connState(c net.Conn, state http.ConnState, srv *http.Server) {
	rec := m.recordIn(h1wire.ValuesOf(c), srv)
	if rec == nil || rec.key != c {
		rec = m.conns.find(c)
	}
	if rec == nil {
		return
	}
	switch state {
	case http.StateActive, http.StateIdle:
		// HTTP/2 reports a connection idle when it closes its streams on the
		// way to closing: with handlers still running it is active.
		keep := state == http.StateIdle && rec.requests.Load() != 0
		if rec.state.Load()&stateSettled != 0 {
			// Every request's two reports, without the lock: net/http makes
			// a connection's reports one after another, so no other write
			// of the word (setState, settle) comes between the load and
			// this store.
			if !keep {
				rec.state.Store(stateSettled | uint32(state))
			}
			return
		}
		rec.mu.Lock()
		if !keep {
			rec.setState(state)
		}
		rec.settle(true, 0)
		rec.mu.Unlock()
	case http.StateHijacked:
		rec.mu.Lock()
		rec.setState(state)
		rec.settle(true, 0)
		rec.mu.Unlock()
		// A hijack in m's Handler is followed to its close; any other one
		// ends the record here.
		if rec.requests.Load() == 0 {
			rec.end()
		}
	case http.StateClosed:
		rec.end()
	}
}

// end closes the record, once: the connection is closed, or hijacked out of
// sight.
func (rec *conn) end() {
	now := clock.Nanos()
	// A handshake still unsettled at the end may have completed (the client
	// left at once) or not: ask the connection, before taking the lock that
	// VerifyConnection, under the handshake's own lock, takes too.
	complete := false
	if tc, ok := rec.key.(*tls.Conn); ok {
		complete = tc.ConnectionState().HandshakeComplete
	}
	rec.mu.Lock()
	if rec.ended {
		rec.mu.Unlock()
		return
	}
	rec.ended = true
	rec.settle(complete, now)
	state, tlsFailed := rec.state.Load()&stateMask, rec.tlsFailed
	rec.mu.Unlock()
	m := rec.m
	if rec.inTable {
		m.conns.remove(rec)
	}
	errorType := ""
	if tlsFailed {
		errorType = "tls_handshake_failed"
	}
	proto := rec.proto.Load()
	protoName := ""
	if proto != uint32(protoUnknown) {
		protoName = "http"
	}
	m.connDuration.WithLabelValues(
		transports[rec.transport],
		networkTypes[rec.netType],
		protoName,
		protocols[proto],
		tlsVersions[rec.tlsVer.Load()],
		http.ConnState(state).String(),
		errorType,
	).Observe(time.Duration(now - rec.start).Seconds())
	// Last, so that a scrape that sees the connection gone sees its duration.
	rec.active.Dec()
}

// The parts of conn.state.
const (
	stateMask    = 0xff
	stateSettled = 1 << 8
)

// setState records the state net/http reported, keeping whether the
// handshake is settled. rec.mu is held.
func (rec *conn) setState(state http.ConnState) {
	rec.state.Store(rec.state.Load()&stateSettled | uint32(state))
}

// labels returns the labels of the connection's gauges: its transport and
// network type.
func (rec *conn) labels() []string {
	return []string{transports[rec.transport], networkTypes[rec.netType]}
}

// request notes that m's Handler is serving r, of protocol version proto,
// on the connection.
func (rec *conn) request(r *http.Request, proto uint8) {
	if uint8(rec.proto.Load()) != proto {
		rec.proto.Store(uint32(proto))
	}
	if r.TLS != nil && rec.tlsVer.Load() == 0 {
		rec.tlsVer.Store(uint32(tlsVersionIndex(r.TLS.Version)))
	}
	rec.requests.Add(1)
}

// requestDone notes that m's Handler has finished a request of protocol
// version proto, which hijacked the connection through the Handler's
// ResponseWriter or not.
func (rec *conn) requestDone(proto uint8, hijacked bool) {
	rec.requests.Add(-1)
	// No hijacking over HTTP/2; a connection hijacked through the
	// ResponseWriter is followed to its close by its upgradedConn.
	if proto == proto2 || hijacked {
		return
	}
	if rec.state.Load()&stateMask == uint32(http.StateHijacked) {
		// Hijacked in the Handler's request, but not through its
		// ResponseWriter: out of sight from here.
		rec.end()
	}
}

// upgradedConn is a connection hijacked through m's Handler: it counts in
// windhover_upgraded_connections, and ends its record, when it closes.
type upgradedConn struct {
	net.Conn
	rec    *conn // nil if the server is not under Apply
	gauge  prometheus.Gauge
	closed atomic.Bool
}

// upgraded wraps a connection just hijacked through m's Handler.
func (m *Metrics) upgraded(c net.Conn, rec *conn) net.Conn {
	u := &upgradedConn{Conn: c, rec: rec, gauge: m.upgradedConns.WithLabelValues(transports[transportIndex(c)], networkTypes[networkTypeIndex(c)])}
	u.gauge.Inc()
	return u
}

// Close closes the connection and, the first time, takes it out of the
// counts.
func (c *upgradedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.gauge.Dec()
		if c.rec != nil {
			c.rec.end()
		}
	}
	return err
}

// NetConn returns the hijacked connection, as tls.Conn's method of that name
// does, for code that looks through wrappers.
func (c *upgradedConn) NetConn() net.Conn { return c.Conn }

// ReadFrom copies through the hijacked connection's own ReadFrom, if it has
// one, so that io.Copy into the connection keeps splice(2) and sendfile(2).
func (c *upgradedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the hijacked connection, if it can.
func (c *upgradedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

var errNoCloseWrite = errors.New("windhover/metrics: hijacked connection cannot half-close")
