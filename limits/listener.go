package limits

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Listener returns ln limited to MaxConcurrentConnections open connections,
// counted together with every other listener and server of l.
//
// Over the limit a connection meets ConnectionOverflow, or with
// ConnectionQueueLength set, waits in Accept for a slot. A connection whose
// client already holds MaxConnectionsPerClient meets ConnectionOverflow at
// once, queue or not; a queued connection holds its client's slot while it
// waits. Each connection
// releases its slot exactly once, when it is closed, also after a hijack; a
// connection that upgrades through l's handler gives up its slot for an
// upgrade slot. The connections keep the optional methods net/http relies on
// (ReadFrom for sendfile, CloseWrite) and offer NetConn to reach the one they
// wrap.
//
// If l has the request-head limits (a Limiter from [New], [MaxRequestLineSize]
// or [MaxRequestHeaders]), each admitted connection is also followed on the
// wire, where its plaintext HTTP/1.x requests are measured as the client
// sent them: MaxRequestLineSize, MaxRequestHeadersTotalSize and
// MaxRequestHeaderCount exactly as Kestrel counts them, answered with 414 or
// 431 as soon as one is crossed, Kestrel's refusals of malformed heads (400,
// 505; see the package documentation), and a chunked body's framing counted
// toward MaxRequestBodySize. Each refusal is counted in [Limiter.Stats] and
// reported to OnReject without a request; the connection is closed. Serve
// with a server given to [Limiter.Apply], whose ConnContext brings the
// connection to the Handler, which then leaves those heads alone. A
// connection that opens with a TLS handshake or the HTTP/2 preface is passed
// through untouched: serving TLS over the listener keeps net/http's
// *tls.Conn, and the Handler measures such requests. If another windhover
// listener under this one (the timeouts package's) already follows the
// connection, l joins it rather than follow it twice, in either order of
// the two. A Limiter without head limits only counts connections; it adds
// no cost per request.
//
// The listener returned has an Unwrap method returning ln. Close closes ln
// once and is idempotent; Accept returns promptly after Close. The listener
// is safe for concurrent use.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	wl := &listener{Listener: ln, l: l, done: make(chan struct{}), ready: make(chan struct{}, 1)}
	wl.responder.init()
	return wl
}

type listener struct {
	net.Listener
	l         *Limiter
	closeOnce sync.Once
	done      chan struct{}
	responder responder

	// The queue, used when ConnectionQueueLength > 0: a goroutine accepts
	// from the wrapped listener into q, and Accept hands out its head when
	// a slot frees.
	feedOnce sync.Once
	feeding  sync.WaitGroup
	ready    chan struct{} // a connection was queued, or the feed ended
	mu       sync.Mutex
	q        []queued
	qErr     error // why the feed ended
	closed   bool
}

type queued struct {
	c        net.Conn
	deadline time.Time
	client   clientSlot
}

// Unwrap returns the wrapped listener.
func (ln *listener) Unwrap() net.Listener { return ln.Listener }

// Accept waits for and returns the next connection that fits the limit.
func (ln *listener) Accept() (net.Conn, error) {
	if ln.l.s.queueLen > 0 {
		return ln.acceptQueued()
	}
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, ok := ln.l.holdClient(c)
		if !ok {
			ln.refuse(c, ReasonClientConnectionLimit)
			continue
		}
		if ln.l.conns.acquire() {
			return ln.l.admit(c, client), nil
		}
		client.release()
		ln.refuse(c, ReasonConnectionLimit)
	}
}

// Close closes the wrapped listener and every queued connection, and stops the
// goroutines answering refused connections. It is idempotent.
func (ln *listener) Close() error {
	err := net.ErrClosed
	ln.closeOnce.Do(func() {
		close(ln.done)
		err = ln.Listener.Close()
		ln.mu.Lock()
		q := ln.q
		ln.q, ln.closed = nil, true
		ln.mu.Unlock()
		for _, qc := range q {
			ln.l.queued.Add(-1)
			qc.client.release()
			_ = qc.c.Close()
		}
		ln.feeding.Wait()
		ln.responder.stop()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (ln *listener) refuse(c net.Conn, reason Reason) {
	ln.l.refuseConn(reason, c.RemoteAddr())
	if ln.l.s.overflow == OverflowRespond503 {
		ln.responder.respond(c)
		return
	}
	_ = c.Close()
}

// refuseConn counts and reports the refusal of the connection from addr
// over the connection limit or the per-client one (reason), and returns it.
func (l *Limiter) refuseConn(reason Reason, addr net.Addr) *Error {
	limit := l.s.maxConns
	if reason == ReasonClientConnectionLimit {
		limit = int64(l.s.perClient)
	}
	e := &Error{Reason: reason, Limit: limit, Size: -1, Addr: addr}
	l.reject(nil, e)
	return e
}

func (ln *listener) acceptQueued() (net.Conn, error) {
	ln.feedOnce.Do(func() {
		ln.feeding.Add(1)
		go ln.feed()
	})
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Watch the pool before trying it, so that a slot released in
		// between still wakes this loop.
		wake := ln.l.conns.watch()
		ln.mu.Lock()
		expired := ln.expireLocked(time.Now())
		var c net.Conn
		var client clientSlot
		if len(ln.q) > 0 && ln.l.conns.acquire() {
			c, client = ln.q[0].c, ln.q[0].client
			ln.q[0] = queued{}
			ln.q = ln.q[1:]
			ln.l.queued.Add(-1)
		}
		var headDeadline time.Time
		if len(ln.q) > 0 {
			headDeadline = ln.q[0].deadline
		}
		empty, closed, qErr := len(ln.q) == 0, ln.closed, ln.qErr
		ln.mu.Unlock()
		for _, e := range expired {
			ln.refuse(e, ReasonConnectionQueueTimeout)
		}
		if c != nil {
			ln.l.conns.unwatch()
			if !empty {
				// Pass the turn to another Accept caller, if any.
				ln.signal()
			}
			return ln.l.admit(c, client), nil
		}
		if closed {
			ln.l.conns.unwatch()
			return nil, net.ErrClosed
		}
		if empty && qErr != nil {
			ln.l.conns.unwatch()
			return nil, qErr
		}
		var expire <-chan time.Time
		if !empty {
			if timer == nil {
				timer = time.NewTimer(time.Until(headDeadline))
			} else {
				timer.Reset(time.Until(headDeadline))
			}
			expire = timer.C
		} else {
			// Nothing queued: a released slot is of no use yet.
			wake = nil
		}
		select {
		case <-wake:
		case <-ln.ready:
		case <-expire:
		case <-ln.done:
		}
		ln.l.conns.unwatch()
	}
}

// expireLocked removes the queued connections whose wait is over. The queue
// is in arrival order, so they are at its head.
func (ln *listener) expireLocked(now time.Time) []net.Conn {
	var expired []net.Conn
	for len(ln.q) > 0 && !now.Before(ln.q[0].deadline) {
		ln.q[0].client.release()
		expired = append(expired, ln.q[0].c)
		ln.q[0] = queued{}
		ln.q = ln.q[1:]
		ln.l.queued.Add(-1)
	}
	return expired
}

// feed accepts connections into the queue until the wrapped listener fails
// for good. Transient errors (out of file descriptors, say) are retried after
// a pause that doubles up to a second, as net/http does.
func (ln *listener) feed() {
	defer ln.feeding.Done()
	var pause time.Duration
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			select {
			case <-ln.done:
			default:
				if !errors.Is(err, net.ErrClosed) {
					pause = min(max(2*pause, 5*time.Millisecond), time.Second)
					select {
					case <-time.After(pause):
						continue
					case <-ln.done:
					}
				}
			}
			ln.mu.Lock()
			ln.qErr = err
			ln.mu.Unlock()
			ln.signal()
			return
		}
		pause = 0
		// A client over its own limit never queues: it could otherwise
		// fill the queue and keep every other client waiting.
		client, ok := ln.l.holdClient(c)
		if !ok {
			ln.refuse(c, ReasonClientConnectionLimit)
			continue
		}
		ln.mu.Lock()
		if ln.closed {
			ln.mu.Unlock()
			client.release()
			_ = c.Close()
			return
		}
		if len(ln.q) >= ln.l.s.queueLen {
			ln.mu.Unlock()
			client.release()
			ln.refuse(c, ReasonConnectionQueueFull)
			continue
		}
		ln.q = append(ln.q, queued{c: c, deadline: time.Now().Add(ln.l.s.queueTimeout), client: client})
		ln.l.queued.Add(1)
		ln.mu.Unlock()
		ln.signal()
	}
}

func (ln *listener) signal() {
	select {
	case ln.ready <- struct{}{}:
	default:
	}
}
