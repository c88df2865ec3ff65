package graceful

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// wrapped hides its connection's SyscallConn behind NetConn, as a limiting
// listener's connections do.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// opaque hides its connection altogether.
type opaque struct{ net.Conn }

func TestHijackSetFollowsConnectionsDownToTheSocket(t *testing.T) {
	tests := []struct {
		name     string
		wrap     func(net.Conn) net.Conn
		tellable bool // whether a close by the application is seen
	}{
		{"tcp", func(c net.Conn) net.Conn { return c }, true},
		{"tls", func(c net.Conn) net.Conn { return tls.Server(c, &tls.Config{}) }, true},
		{"netconn", func(c net.Conn) net.Conn { return wrapped{c} }, true},
		{"tls over netconn", func(c net.Conn) net.Conn { return tls.Server(wrapped{c}, &tls.Config{}) }, true},
		{"opaque", func(c net.Conn) net.Conn { return opaque{c} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hijackSet
			_, s1 := testserver.TCPPair(t)
			c1 := tt.wrap(s1)
			if h.add(c1) {
				t.Fatal("closed at once while serving")
			}
			if n := h.open(); n != 1 {
				t.Fatalf("open = %d, want 1", n)
			}
			c1.Close()
			want := 0
			if !tt.tellable {
				want = 1
			}
			if n := h.open(); n != want {
				t.Errorf("open after the application closed it = %d, want %d", n, want)
			}

			client, s2 := testserver.TCPPair(t)
			h.add(tt.wrap(s2))
			// An opaque connection closed by its application still counts.
			if closed := h.closeAll(); closed != want+1 {
				t.Errorf("closeAll closed %d, want %d", closed, want+1)
			}
			if !peerClosed(client) {
				t.Error("closeAll left the socket open")
			}

			// Hijacked after the group gave up: closed as it arrives.
			client3, s3 := testserver.TCPPair(t)
			if !h.add(tt.wrap(s3)) {
				t.Error("a connection hijacked after closeAll was kept")
			}
			if !peerClosed(client3) {
				t.Error("a connection hijacked after closeAll is open")
			}
			if n := h.open(); n != 0 {
				t.Errorf("open after closeAll = %d", n)
			}
		})
	}
}

// A large set is swept as it grows, so that connections closed long ago do
// not pile up.
func TestHijackSetSweepsAsItGrows(t *testing.T) {
	var h hijackSet
	for range 3 * minSweep {
		_, s := testserver.TCPPair(t)
		h.add(s)
		s.Close()
	}
	h.mu.Lock()
	n := len(h.conns)
	h.mu.Unlock()
	if n > minSweep {
		t.Errorf("%d closed connections kept, want at most %d", n, minSweep)
	}
}

func peerClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return err != nil && !(ok && ne.Timeout())
}
