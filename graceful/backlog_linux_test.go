package graceful

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/netconn"
)

// gatedListener accepts nothing until open is closed: the connections the
// kernel completes wait in its accept queue, as when Serve falls behind.
type gatedListener struct {
	net.Listener
	open   chan struct{}
	closed chan struct{}
}

func (l *gatedListener) Accept() (net.Conn, error) {
	select {
	case <-l.open:
	case <-l.closed:
	}
	return l.Listener.Accept()
}

// Close closes the socket before it wakes a gated Accept, so that Accept
// fails rather than taking a queued connection in between.
func (l *gatedListener) Close() error {
	err := l.Listener.Close()
	close(l.closed)
	return err
}

func (l *gatedListener) Unwrap() net.Listener { return l.Listener }

// queueRequests starts a group serving "ok" on a gated listener, and sends
// n requests on as many connections, which wait in the accept queue.
func queueRequests(t *testing.T, g *Group, n int) (*run, *gatedListener, []net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &gatedListener{Listener: inner, open: make(chan struct{}), closed: make(chan struct{})}
	g.Add(newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })), ln)
	r := start(t, g)
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", inner.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	eventually(t, func() bool { q, ok := netconn.Backlog(inner); return ok && q == n },
		"the connections did not reach the accept queue")
	return r, ln, conns
}

// TestDrainAcceptsQueuedConnections: the drain closes a listener only once
// the connections in its accept queue are accepted, since closing it would
// reset them, requests and all; their requests are served.
func TestDrainAcceptsQueuedConnections(t *testing.T) {
	g := mustNew(t, Config{ShutdownTimeout: 5 * time.Second, Signals: []os.Signal{}})
	r, ln, conns := queueRequests(t, g, 3)
	r.cancel()
	waitState(t, g, StateDraining)
	time.Sleep(100 * time.Millisecond)
	if q, _ := netconn.Backlog(ln); q != 3 {
		t.Fatalf("%d connections queued during the drain, want 3: the listener closed under them", q)
	}
	close(ln.open)
	for i, c := range conns {
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("queued connection %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Errorf("queued connection %d: %d %q, want 200 \"ok\"", i, res.StatusCode, body)
		}
	}
	r.expect(t, nil)
}

// TestDrainQueueWaitIsBounded: a queue Serve never empties holds the drain
// for settleMax, after which the listener closes and its connections are
// reset, as a listener closed at once resets them.
func TestDrainQueueWaitIsBounded(t *testing.T) {
	g := mustNew(t, Config{ShutdownTimeout: 5 * time.Second, Signals: []os.Signal{}})
	g.settleMax = 300 * time.Millisecond
	r, _, conns := queueRequests(t, g, 2)
	began := time.Now()
	r.cancel()
	r.expect(t, nil)
	if took := time.Since(began); took < g.settleMax || took > 3*time.Second {
		t.Errorf("the drain took %v, want %v to 3s", took, g.settleMax)
	}
	for i, c := range conns {
		if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("queued connection %d: read %v, want the connection reset", i, err)
		}
	}
}
