package graceful

import (
	"net"
	"sync"
	"sync/atomic"
)

// listener makes sure the listener it wraps is closed exactly once, however
// many of the group, net/http's Serve, and the server's Shutdown and Close
// try. net/http guards only its own calls within one Serve; the listeners a
// user passes (a Unix socket that removes its file on Close, a limiting or
// activation listener with bookkeeping of its own) need not tolerate more.
type listener struct {
	net.Listener
	once   sync.Once
	err    error
	closed atomic.Bool
}

// Close closes the wrapped listener the first time and returns that first
// call's result every time.
func (ln *listener) Close() error {
	ln.once.Do(func() {
		ln.closed.Store(true)
		ln.err = ln.Listener.Close()
	})
	return ln.err
}

// isClosed reports whether Close has been called.
func (ln *listener) isClosed() bool { return ln.closed.Load() }

// Unwrap returns the wrapped listener, so hand-off code can reach its file
// descriptor.
func (ln *listener) Unwrap() net.Listener { return ln.Listener }
