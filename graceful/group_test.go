package graceful

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

func TestReadyHandler(t *testing.T) {
	g := mustNew(t, Config{})
	h := g.ReadyHandler()
	for s := StateNew; s <= StateStopped; s++ {
		g.state.Store(uint32(s))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/ready", nil))
		want := 200
		if s >= StateStopping {
			want = 503
		}
		if w.Code != want || w.Body.String() != s.String()+"\n" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %q %v, want %d", s, w.Code, w.Body.String(), w.Header(), want)
		}
	}
}

// The stopping context ends with the cause, and every OnStopping function
// is called once, also one registered late.
func TestStoppingNotifiesTheApplication(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true})
	var calls atomic.Int32
	called := make(chan struct{}, 3)
	for range 2 {
		g.OnStopping(func() {
			calls.Add(1)
			called <- struct{}{}
		})
	}
	addServer(t, g, overH1, mux(g, newGate()))
	r := start(t, g)
	if g.Context().Err() != nil {
		t.Fatal("the stopping context ended while serving")
	}
	r.cancel()
	<-g.Stopping()
	if cause := context.Cause(g.Context()); !errors.Is(cause, ErrContextDone) || !errors.Is(cause, context.Canceled) {
		t.Errorf("cause %v", cause)
	}
	<-called
	<-called
	g.OnStopping(func() { called <- struct{}{} })
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Error("a function registered after the stop began was not called")
	}
	r.expect(t, nil)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls", n)
	}
}

// The states follow one another, and Stats counts what the servers hold.
func TestStatsFollowTheStates(t *testing.T) {
	seen := make(chan State, 8)
	f := startOne(t, Config{DisableSignals: true, DrainDelay: 200 * time.Millisecond}, overH2, func(g *Group) {
		if s := g.Stats(); s.State != StateNew {
			t.Errorf("before Run: %v", s.State)
		}
		g.OnStopping(func() { seen <- g.Stats().State })
	})
	g, ep, r := f.g, f.ep, f.r
	if s := g.Stats(); s.State != StateServing {
		t.Errorf("running: %v", s.State)
	}
	if code, _, err := ep.get("/fast"); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	res := f.holdRequest(t)
	if s := g.Stats(); s.Conns != 1 || s.Requests != 1 || s.Served != 1 {
		t.Errorf("stats: %+v, want one HTTP/2 connection, one request in flight, one served", s)
	}
	r.cancel()
	if s := <-seen; s != StateStopping {
		t.Errorf("OnStopping saw %v", s)
	}
	waitState(t, g, StateDraining)
	f.gt.release()
	await(t, res)
	r.expect(t, nil)
	<-g.Stopped()
	if s := g.Stats(); s.State != StateStopped || s.Requests != 0 || s.Served != 2 {
		t.Errorf("after Run: %+v", s)
	}
	// net/http forgets a connection a moment before its ConnState hook hears
	// that it closed, so Shutdown may return in between.
	eventually(t, func() bool { return g.Stats().Conns == 0 }, "connections open after Run: %d", g.Stats().Conns)
}

func TestMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(g *Group)
		msg  string
	}{
		{"nil server", func(g *Group) { g.Add(nil, nil) }, "graceful: Add with a nil"},
		{"twice without a listener", func(g *Group) {
			srv := &http.Server{}
			g.Add(srv, nil)
			g.AddTLS(srv, nil, "", "")
		}, "graceful: the same *http.Server added twice"},
		{"twice with the same listener", func(g *Group) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				panic(err)
			}
			defer ln.Close()
			srv := &http.Server{}
			g.Add(srv, ln)
			g.Add(srv, ln)
		}, "graceful: the same *http.Server added twice"},
		{"add after Run", func(g *Group) {
			_ = g.Shutdown(context.Background())
			_ = g.Run(context.Background())
			g.Add(&http.Server{}, nil)
		}, "graceful: Add after Run"},
		{"Run twice", func(g *Group) {
			_ = g.Shutdown(context.Background())
			_ = g.Run(context.Background())
			_ = g.Run(context.Background())
		}, "graceful: Run called twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if p, _ := recover().(string); !strings.HasPrefix(p, tt.msg) {
					t.Errorf("panic %q, want %q", p, tt.msg)
				}
			}()
			tt.f(mustNew(t, Config{DisableSignals: true}))
		})
	}
}

// TestRequestsOneCell: a request in flight goes up and down in one cell of
// the count, though its goroutine moves to another processor between, so
// that the drain, which reads the cells one by one, never sees the -1
// without the +1; every request is counted served.
func TestRequestsOneCell(t *testing.T) {
	g := mustNew(t, Config{})
	testserver.ServeMoving(g.Handler)
	testserver.CheckCells(t, "the requests in flight", &g.requests)
	if n := g.served.Load(); n != testserver.ServedMoving {
		t.Errorf("served %d requests, want %d", n, testserver.ServedMoving)
	}
}
