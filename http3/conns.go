package http3

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	qhttp3 "github.com/quic-go/quic-go/http3"
)

// conns counts QUIC connections from their first Initial packet to their
// end: the connection limit, the handshakes in progress (for Retry), and
// what the metrics report. Its hooks run on quic-go's packet-handling
// goroutine and cost a few atomic operations.
type conns struct {
	// acquire takes the slots of the hardened server's connection limits,
	// shared with its TCP listeners (limits.Limiter.AcquireConnection).
	acquire    func(net.Addr) (release func(), err error)
	retryAbove int64 // -1: always
	met        *quicMetrics

	open       atomic.Int64 // connections counted, handshaking or not
	handshakes atomic.Int64 // of which handshaking
	accepted   atomic.Uint64
	refused    atomic.Uint64
	retries    atomic.Uint64
	failed     atomic.Uint64 // handshakes that did not complete

	lastRefused atomic.Pointer[refusal]

	mu   sync.Mutex
	live map[*conn]struct{} // accepted by the HTTP/3 server and not closed
}

// refusal is the last connection attempt refused.
type refusal struct {
	addr string
	at   time.Time
	err  error
}

// sameAttempt is how soon after a refusal another Initial packet from the
// same address is taken for the same attempt, refused again without being
// counted again: a ClientHello that does not fit in one packet (one with a
// post-quantum key share) comes in two, and quic-go, having made no
// connection of the first, asks again.
const sameAttempt = 100 * time.Millisecond

// conn is one QUIC connection's record, carried in its context.
type conn struct {
	cs         *conns
	release    func() // the connection limits' slots
	start      time.Time
	ipv6       bool
	once       sync.Once // the handshake's end
	handshaken bool      // written in once, read after the close
	tlsVersion uint16

	qc       *quic.Conn   // once accepted
	requests atomic.Int64 // in the handler
	idle     bool         // no request at the last look of a drain
}

type connKey struct{}

// verifySourceAddress is quic.Transport.VerifySourceAddress: a client is
// sent a Retry once too many handshakes are in progress.
func (cs *conns) verifySourceAddress(net.Addr) bool {
	if cs.retryAbove >= 0 && cs.handshakes.Load() < cs.retryAbove {
		return false
	}
	cs.retries.Add(1)
	return true
}

// connContext is quic.Transport.ConnContext: the connection takes a slot of
// the server's connection limits, given back when its context ends, or is
// refused (the Limiter counts and reports the refusal).
func (cs *conns) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	now := time.Now()
	if last := cs.lastRefused.Load(); last != nil && now.Sub(last.at) < sameAttempt && last.addr == info.RemoteAddr.String() {
		return nil, last.err
	}
	release, err := cs.acquire(info.RemoteAddr)
	if err != nil {
		cs.lastRefused.Store(&refusal{info.RemoteAddr.String(), now, err})
		cs.refused.Add(1)
		return nil, err
	}
	cs.open.Add(1)
	cs.accepted.Add(1)
	cs.handshakes.Add(1)
	c := &conn{cs: cs, start: now, release: release}
	if a, ok := info.RemoteAddr.(*net.UDPAddr); ok {
		c.ipv6 = a.IP.To4() == nil
	}
	cs.met.connOpened(c)
	ctx = context.WithValue(ctx, connKey{}, c)
	context.AfterFunc(ctx, c.closed)
	return ctx, nil
}

// handshake waits for the connection's handshake to end, and records how.
func (c *conn) handshake(qc *quic.Conn) {
	select {
	case <-qc.HandshakeComplete():
		c.tlsVersion = qc.ConnectionState().TLS.Version
		c.endHandshake(true)
	case <-qc.Context().Done():
		c.endHandshake(false)
	}
}

func (c *conn) endHandshake(ok bool) {
	c.once.Do(func() {
		c.handshaken = ok
		c.cs.handshakes.Add(-1)
		if !ok {
			c.cs.failed.Add(1)
		}
		c.cs.met.handshakeDone(c, ok, time.Since(c.start))
	})
}

// closed ends the connection's record: its context ended, the connection
// closed or its handshake failed.
func (c *conn) closed() {
	c.endHandshake(false)
	c.cs.mu.Lock()
	delete(c.cs.live, c)
	c.cs.mu.Unlock()
	c.cs.open.Add(-1)
	c.release()
	c.cs.met.connClosed(c, time.Since(c.start))
}

// listener follows each connection it accepts through its handshake.
type listener struct {
	*quic.EarlyListener
}

func (ln listener) Accept(ctx context.Context) (*quic.Conn, error) {
	qc, err := ln.EarlyListener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	if c, ok := qc.Context().Value(connKey{}).(*conn); ok {
		c.qc = qc
		cs := c.cs
		cs.mu.Lock()
		if qc.Context().Err() == nil { // else closed() has run, or will find nothing
			if cs.live == nil {
				cs.live = make(map[*conn]struct{})
			}
			cs.live[c] = struct{}{}
		}
		cs.mu.Unlock()
		go c.handshake(qc)
	}
	return qc, nil
}

// counting counts each connection's requests in the handler, so that a
// drain can close the connections that have none.
type counting struct{ next http.Handler }

func (h counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*conn); ok {
		c.requests.Add(1)
		defer c.requests.Add(-1)
	}
	h.next.ServeHTTP(w, r)
}

// closeIdle closes, with H3_NO_ERROR, every connection that had no request
// in the handler at this look and at the one before: after GOAWAY, a
// connection's requests are the ones it had, and a client that keeps an
// idle connection open must not hold the drain to its deadline. The look
// before lets a request that crossed the GOAWAY reach the handler.
func (cs *conns) closeIdle() {
	var idle []*conn
	cs.mu.Lock()
	for c := range cs.live {
		if c.requests.Load() != 0 {
			c.idle = false
			continue
		}
		if c.idle {
			idle = append(idle, c)
			delete(cs.live, c)
		}
		c.idle = true
	}
	cs.mu.Unlock()
	for _, c := range idle {
		_ = c.qc.CloseWithError(quic.ApplicationErrorCode(qhttp3.ErrCodeNoError), "")
	}
}
