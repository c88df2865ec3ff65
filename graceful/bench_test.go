package graceful

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/windhover/windhover/internal/testserver"
)

var okHandler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// The request counter costs no allocation.
func TestHandlerAllocs(t *testing.T) {
	g := mustNew(t, Config{DisableSignals: true})
	h := g.Handler(okHandler)
	w := testserver.NewNopWriter()
	r := httptest.NewRequest("GET", "/", nil)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// The ConnState hook costs no allocation for a connection's ordinary life.
func TestConnStateAllocs(t *testing.T) {
	g := mustNew(t, Config{DisableSignals: true})
	c, _ := net.Pipe()
	defer c.Close()
	n := testing.AllocsPerRun(100, func() {
		for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed} {
			g.connState(c, s)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per connection", n)
	}
	// And a request's changes while another connection waits for its
	// first request: the fresh set's filter, without its lock.
	waiting, _ := net.Pipe()
	defer waiting.Close()
	g.connState(waiting, http.StateNew)
	g.connState(c, http.StateNew)
	g.connState(c, http.StateActive)
	n = testing.AllocsPerRun(100, func() {
		g.connState(c, http.StateActive)
		g.connState(c, http.StateIdle)
	})
	if n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func BenchmarkHandler(b *testing.B) {
	g := mustNew(b, Config{DisableSignals: true})
	h := g.Handler(okHandler)
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := testserver.NewNopWriter()
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}

func BenchmarkConnState(b *testing.B) {
	g := mustNew(b, Config{DisableSignals: true})
	c, _ := net.Pipe()
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		g.connState(c, http.StateNew)
		g.connState(c, http.StateActive)
		g.connState(c, http.StateIdle)
		g.connState(c, http.StateClosed)
	}
}

// BenchmarkConnStateBusy measures the hook for the requests of kept-alive
// connections (StateActive, then StateIdle, a request) while another
// connection waits for its first request, as on a server that keeps
// accepting: the set of fresh connections is then never empty.
// With layers=3 the connection is wrapped twice, as the limits Listener's
// connections are in Harden's composition.
func BenchmarkConnStateBusy(b *testing.B) {
	for _, layers := range []int{1, 3} {
		b.Run(fmt.Sprintf("layers=%d", layers), func(b *testing.B) {
			g := mustNew(b, Config{DisableSignals: true})
			waiting, _ := net.Pipe()
			defer waiting.Close()
			g.connState(waiting, http.StateNew)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p, _ := net.Pipe()
				defer p.Close()
				c := p
				for range layers - 1 {
					c = &wrappedConn{c}
				}
				g.connState(c, http.StateNew)
				for pb.Next() {
					g.connState(c, http.StateActive)
					g.connState(c, http.StateIdle)
				}
			})
		})
	}
}
