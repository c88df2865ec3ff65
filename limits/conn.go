package limits

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/netconn"
)

// A connection from a Limiter's listener holds one slot of its connection
// pool until it closes, or, once upgraded, one upgrade slot instead.
const (
	inPool = iota
	upgraded
	closed
)

// conn is a connection accepted by a [Limiter.Listener].
type conn struct {
	net.Conn
	l        *Limiter // whose connection slot it holds while inPool
	mu       sync.Mutex
	state    uint8
	upgrader *Limiter     // whose upgrade slot it holds while upgraded
	client   *clientSlot  // its client's slot, for MaxConnectionsPerClient; nil without the limit
	wire     *h1wire.Conn // the wire Conn that follows the connection, if any
}

// Close releases the connection's slot, exactly once, and closes it. A
// decision of l's Wire on a body that no request reported (net/http read
// the body after the handler, or no limits handler read it) is reported
// then, without a request.
func (c *conn) Close() error {
	c.mu.Lock()
	state, upgrader := c.state, c.upgrader
	c.state = closed
	if state != closed {
		c.client.release()
	}
	c.mu.Unlock()
	switch state {
	case inPool:
		c.l.conns.release()
	case upgraded:
		upgrader.upgrades.release()
	}
	if state != closed && c.wire != nil && c.wire.HeadWire() == c.l.wire {
		if e := c.wire.ClaimBodyError(); e != nil {
			c.l.reject(nil, wireError(e, e.Addr))
		}
	}
	return c.Conn.Close()
}

// upgrade moves the connection out of its connection pool: from now on it
// holds the upgrade slot that u reserved for it. It reports false, leaving the
// reservation with the caller, if the connection is already closed or
// upgraded.
func (c *conn) upgrade(u *Limiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != inPool {
		return false
	}
	c.state = upgraded
	c.upgrader = u
	c.l.conns.release()
	return true
}

// NetConn returns the wrapped connection, as tls.Conn's method of that name
// does, so code that needs the socket (peer credentials, say) can reach it.
func (c *conn) NetConn() net.Conn { return c.Conn }

// ReadFrom keeps the wrapped connection's ReadFrom within reach of net/http,
// which uses it to send files with sendfile(2).
func (c *conn) ReadFrom(r io.Reader) (int64, error) { return readFrom(c.Conn, r) }

// CloseWrite keeps the wrapped connection's CloseWrite within reach of
// net/http, which half-closes before closing so that the client reads the
// last response instead of a reset.
func (c *conn) CloseWrite() error { return closeWrite(c.Conn) }

// upgradedConn is a hijacked connection that did not come from a Limiter's
// listener; it holds an upgrade slot until it closes.
type upgradedConn struct {
	net.Conn
	l      *Limiter
	closed atomic.Bool
}

// Close releases the upgrade slot, exactly once, and closes the connection.
func (c *upgradedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.upgrades.release()
	}
	return c.Conn.Close()
}

// NetConn returns the wrapped connection.
func (c *upgradedConn) NetConn() net.Conn { return c.Conn }

// ReadFrom uses the wrapped connection's ReadFrom, if any.
func (c *upgradedConn) ReadFrom(r io.Reader) (int64, error) { return readFrom(c.Conn, r) }

// CloseWrite half-closes the wrapped connection, if it can.
func (c *upgradedConn) CloseWrite() error { return closeWrite(c.Conn) }

// writerOnly hides a writer's ReadFrom so that io.Copy does not call back.
type writerOnly struct{ io.Writer }

func readFrom(dst net.Conn, src io.Reader) (int64, error) {
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{dst}, src)
}

var errNoCloseWrite = errors.New("windhover/limits: connection cannot half-close")

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// findConn returns the Limiter connection under c's wrappers (tls.Conn's,
// say), or nil.
func findConn(c net.Conn) *conn {
	lc, _ := netconn.Find[*conn](c)
	return lc
}
