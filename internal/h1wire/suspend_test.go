package h1wire

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// While Suspended reports true, neither timer is enforced; once it reports
// false, the timers that ran out meanwhile are, at the next look.
func TestSuspendedTimers(t *testing.T) {
	var suspended atomic.Bool
	suspended.Store(true)
	cfg := timers
	cfg.Suspended = suspended.Load
	s, d := start(t, cfg, echo, testserver.H1, kestrelServer)
	idle := testserver.Dial(t, s.Addr())
	partial := testserver.Dial(t, s.Addr())
	partial.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n")
	// Past both timers, and past the Conn's second look.
	time.Sleep(keepAlive + SuspendedRecheck + 200*time.Millisecond)
	if got := d.list(); len(got) != 0 {
		t.Fatalf("decided while suspended: %v", got)
	}
	// A suspended connection still serves.
	partial.Send(t, "\r\n")
	expect(t, partial, 200, "GET 0 0")

	suspended.Store(false)
	began := time.Now()
	partial.Send(t, "GET / HT")
	expectAnswer(t, partial, ReasonRequestHeadersTimeout)
	closedSilently(t, idle, began, 0, SuspendedRecheck+time.Second)
	if got := d.list(); len(got) != 2 {
		t.Fatalf("decisions %v", got)
	}
}
