package graceful

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// countingListener counts its Close calls.
type countingListener struct {
	net.Listener
	closes atomic.Int32
}

func (l *countingListener) Close() error {
	l.closes.Add(1)
	return l.Listener.Close()
}

// Every listener is closed exactly once, and a Unix socket's file is
// removed, however the server served.
func TestListenersClosedOnce(t *testing.T) {
	for _, tr := range httpTransports {
		t.Run(string(tr), func(t *testing.T) {
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true})
			ep := addServer(t, g, tr, mux(g, newGate()))
			// Put the counter under whatever addServer added.
			cl := &countingListener{Listener: ep.ln}
			s := g.servers[0]
			switch inner := s.ln.Listener; {
			case tr == overH1TLS:
				s.ln.Listener = tls.NewListener(cl, ep.serverTLS("http/1.1"))
			case inner == ep.ln:
				s.ln.Listener = cl
			default:
				t.Fatal("unexpected listener")
			}
			r := start(t, g)
			if code, _, err := ep.get("/fast"); err != nil || code != 200 {
				t.Fatalf("GET: %d %v", code, err)
			}
			r.cancel()
			r.expect(t, nil)
			if n := cl.closes.Load(); n != 1 {
				t.Errorf("Close called %d times", n)
			}
			if tr == overUnix {
				if _, err := os.Stat(ep.path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("socket file left behind: %v", err)
				}
			}
		})
	}
}

// brokenListener fails for good at its next Accept once broken.
type brokenListener struct {
	net.Listener
	broken atomic.Bool
}

var errBroken = errors.New("listener broken")

func (l *brokenListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.broken.Load() {
		c.Close()
		return nil, errBroken
	}
	return c, err
}

// A server that stops serving stops the group: the others drain, and Run
// returns the failure.
func TestServeFailureStopsGroup(t *testing.T) {
	t.Run("accept", func(t *testing.T) {
		checkNoLeaks(t)
		g := mustNew(t, Config{DisableSignals: true})
		gt := newGate()
		good := addServer(t, g, overH2, mux(g, gt))
		bad := addServer(t, g, overH1, mux(g, gt))
		bl := &brokenListener{Listener: bad.ln}
		g.servers[1].ln.Listener = bl
		r := start(t, g)
		res := good.getAsync("/slow")
		gt.wait(t, 1)
		bl.broken.Store(true)
		bad.dialRaw(t)
		waitState(t, g, StateDraining)
		eventually(t, good.refused, "the other server still accepts connections")
		gt.release()
		if got := await(t, res); got.code != 200 {
			t.Errorf("the other server's request: %+v", got)
		}
		err := r.wait(t)
		if !errors.Is(err, ErrServe) || !errors.Is(err, errBroken) {
			t.Errorf("Run: %v, want ErrServe wrapping the listener's error", err)
		}
		if rep := g.Report(); !errors.Is(rep.Cause, errBroken) || rep.Completed != 1 {
			t.Errorf("report: %+v", rep)
		}
	})

	t.Run("certificate", func(t *testing.T) {
		checkNoLeaks(t)
		g := mustNew(t, Config{DisableSignals: true})
		other := addServer(t, g, overUnix, mux(g, newGate()))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cl := &countingListener{Listener: ln}
		g.AddTLS(newServer(http.NotFoundHandler()), cl, "/nonexistent/cert.pem", "/nonexistent/key.pem")
		err = g.Run(context.Background())
		if !errors.Is(err, ErrServe) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Run: %v, want ErrServe wrapping fs.ErrNotExist", err)
		}
		if n := cl.closes.Load(); n != 1 {
			t.Errorf("the TLS server's listener closed %d times", n)
		}
		if !other.refused() {
			t.Error("the other server's listener is open")
		}
	})

	t.Run("listen", func(t *testing.T) {
		checkNoLeaks(t)
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		g := mustNew(t, Config{DisableSignals: true})
		other := addServer(t, g, overH1, mux(g, newGate()))
		srv := newServer(http.NotFoundHandler())
		srv.Addr = busy.Addr().String()
		g.Add(srv, nil)
		err = g.Run(context.Background())
		if !errors.Is(err, ErrServe) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Run: %v, want ErrServe wrapping EADDRINUSE", err)
		}
		if !other.refused() {
			t.Error("the other server's listener is open")
		}
		if rep := g.Report(); !errors.Is(rep.Cause, syscall.EADDRINUSE) {
			t.Errorf("report: %+v", rep)
		}
		select {
		case <-g.Stopping():
		default:
			t.Error("the stopping context did not end")
		}
	})

	t.Run("closed from outside", func(t *testing.T) {
		checkNoLeaks(t)
		g := mustNew(t, Config{DisableSignals: true})
		a := addServer(t, g, overH1, mux(g, newGate()))
		b := addServer(t, g, overH1, mux(g, newGate()))
		r := start(t, g)
		_ = a.srv.Close()
		r.expect(t, nil)
		if !b.refused() {
			t.Error("the other server's listener is open")
		}
		if rep := g.Report(); !errors.Is(rep.Cause, ErrServerClosed) {
			t.Errorf("report: %+v", rep)
		}
	})
}

// A server added without a listener listens on its Addr.
func TestAddWithoutListener(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true})
	srv := newServer(mux(g, newGate()))
	srv.Addr = "127.0.0.1:0"
	g.Add(srv, nil)
	r := start(t, g)
	addr := g.servers[0].ln.Addr().String()
	res, err := http.Get("http://" + addr + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	r.cancel()
	r.expect(t, nil)
}

// The group chains the ConnState hook a server already has, and keeps its
// RegisterOnShutdown functions.
func TestUserHooksChained(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true})
	var states connStates
	onShutdown := make(chan struct{})
	ep := addServer(t, g, overH1, mux(g, newGate()), func(srv *http.Server) {
		srv.ConnState = func(c net.Conn, s http.ConnState) { states.add(s) }
		srv.RegisterOnShutdown(func() { close(onShutdown) })
	})
	r := start(t, g)

	if code, _, err := ep.get("/fast"); err != nil || code != 200 {
		t.Fatalf("GET: %d %v", code, err)
	}
	c := ep.upgrade(t, "")
	if s := g.Stats(); s.Conns != 1 || s.Hijacked != 1 {
		t.Errorf("stats: %+v, want the idle connection and the hijacked one", s)
	}
	c.Close()
	ep.client.CloseIdleConnections()
	r.cancel()
	r.expect(t, nil)
	<-onShutdown
	// Shutdown may return before the hook hears of the last close.
	eventually(t, func() bool {
		return states.count(http.StateNew) == 2 && states.count(http.StateHijacked) == 1 &&
			states.count(http.StateClosed) == 1 && states.count(http.StateIdle) >= 1
	}, "the user's hook saw %v", &states)
}

// connStates records the states a ConnState hook saw.
type connStates struct {
	mu     sync.Mutex
	states []http.ConnState
}

func (cs *connStates) add(s http.ConnState) {
	cs.mu.Lock()
	cs.states = append(cs.states, s)
	cs.mu.Unlock()
}

func (cs *connStates) count(s http.ConnState) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for _, seen := range cs.states {
		if seen == s {
			n++
		}
	}
	return n
}

func (cs *connStates) String() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return fmt.Sprint(cs.states)
}
