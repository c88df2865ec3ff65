package graceful

import (
	"net"
	"sync"
	"syscall"

	"github.com/windhover/windhover/internal/netconn"
)

// hijackSet holds the connections that handlers hijacked (WebSockets and
// other upgrades), which net/http's Shutdown and Close no longer see.
//
// Nothing tells anyone when an application closes a hijacked connection, and
// wrapping every accepted connection to find out would hide *net.TCPConn,
// *net.UnixConn and *tls.Conn from the code that looks for them (net/http
// itself, peer credentials, ALPN). Instead each connection is followed down
// to its socket (NetConn, as on *tls.Conn, then SyscallConn) and asked
// whether it is still open: syscall.RawConn.Control fails once the socket is
// closed. The set is swept when it has doubled since the last sweep, when
// Stats is read, and every few milliseconds while a drain waits for it.
type hijackSet struct {
	mu      sync.Mutex
	conns   map[net.Conn]hijackedConn
	closing bool // the group stopped, or gave up waiting: close arrivals at once
	sweepAt int  // sweep before adding when the set is this large
}

type hijackedConn struct {
	socket net.Conn        // the innermost connection reachable from the hijacked one
	raw    syscall.RawConn // socket's, or nil if it has none: then it counts as open
}

// minSweep is the smallest set that add sweeps before growing.
const minSweep = 64

// add tracks c, hijacked a moment ago. Once the group has closed its
// connections (the deadline passed, or the drain ended), c is closed at once
// instead; add then reports true.
func (h *hijackSet) add(c net.Conn) (closed bool) {
	var hc hijackedConn
	hc.socket, hc.raw = socketOf(c)
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		hc.abort(c)
		return true
	}
	if h.conns == nil {
		h.conns = make(map[net.Conn]hijackedConn)
	}
	if len(h.conns) >= h.sweepAt {
		h.sweepLocked()
		h.sweepAt = max(2*len(h.conns), minSweep)
	}
	h.conns[c] = hc
	h.mu.Unlock()
	return false
}

// open forgets the connections the application has closed and returns how
// many are left.
func (h *hijackSet) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sweepLocked()
	return len(h.conns)
}

func (h *hijackSet) sweepLocked() {
	for c, hc := range h.conns {
		if !hc.isOpen() {
			delete(h.conns, c)
		}
	}
}

// closeAll closes every tracked connection still open, and from now on every
// connection hijacked later as soon as it arrives. It returns how many it
// closed.
func (h *hijackSet) closeAll() int {
	h.mu.Lock()
	conns := h.conns
	h.conns, h.closing = nil, true
	h.mu.Unlock()
	n := 0
	for c, hc := range conns {
		if hc.isOpen() {
			hc.abort(c)
			n++
		}
	}
	return n
}

func noControl(uintptr) {}

func (hc hijackedConn) isOpen() bool {
	return hc.raw == nil || hc.raw.Control(noControl) == nil
}

// abort closes the socket first, so that closing c cannot wait: a *tls.Conn
// would otherwise try to send close_notify for up to five seconds to a peer
// that may not be reading. Then c itself is closed, for the bookkeeping of any
// wrapper (a connection limit's slot, say).
func (hc hijackedConn) abort(c net.Conn) {
	_ = hc.socket.Close()
	if hc.socket != c {
		_ = c.Close()
	}
}

// socketOf follows c's NetConn methods down to a connection with a
// SyscallConn method, and returns it with its raw connection. If there is
// none, or its raw connection cannot tell, it returns the innermost
// connection it found and nil.
func socketOf(c net.Conn) (net.Conn, syscall.RawConn) {
	innermost := c
	for l := range netconn.Layers(c) {
		innermost = l
		sc, ok := l.(syscall.Conn)
		if !ok {
			continue
		}
		raw, err := sc.SyscallConn()
		// The connection was just hijacked, so it is open: a platform
		// where Control fails anyway (Plan 9) cannot tell, and its
		// connections count as open.
		if err != nil || raw.Control(noControl) != nil {
			return l, nil
		}
		return l, raw
	}
	return innermost, nil
}
