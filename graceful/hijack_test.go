package graceful

import (
	"net"
	"net/http"
	"testing"
	"time"
)

var hijackTransports = []transport{overH1, overH1TLS, overUnix}

// A hijacked connection outlives Go's Shutdown and is closed at the deadline,
// not before.
func TestHijackedClosedAtDeadline(t *testing.T) {
	const timeout = 400 * time.Millisecond
	for _, tr := range hijackTransports {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true, ShutdownTimeout: timeout}, tr)
			c := f.ep.upgrade(t, "")
			if !echoes(c) {
				t.Fatal("the hijacked connection does not echo")
			}
			if s := f.g.Stats(); s.Hijacked != 1 || s.Conns != 0 {
				t.Errorf("stats after the hijack: %+v", s)
			}
			began := time.Now()
			f.r.cancel()
			waitState(t, f.g, StateDraining)
			time.Sleep(timeout / 3)
			if !echoes(c) {
				t.Fatalf("the hijacked connection was closed %v after the stop, before the deadline", time.Since(began))
			}
			if !c.ClosedByPeer(t) {
				t.Fatal("the hijacked connection was not closed at the deadline")
			}
			if d := time.Since(began); d < timeout {
				t.Errorf("closed %v after the stop, before the deadline of %v", d, timeout)
			}
			f.r.expect(t, ErrShutdownTimeout)
			rep := f.g.Report()
			if rep.Hijacked != 1 || rep.ForcedClosedHijacked != 1 || rep.ForcedClosed != 0 || !rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
			if s := f.g.Stats(); s.Hijacked != 0 || s.ForcedClosedHijacked != 1 {
				t.Errorf("stats after Run: %+v", s)
			}
		})
	}
}

// An application that closes its hijacked connection when told the stop has
// begun ends the drain early.
func TestHijackedClosedByApplicationEndsDrain(t *testing.T) {
	for _, tr := range hijackTransports {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true, ShutdownTimeout: 10 * time.Second}, tr)
			c := f.ep.upgrade(t, "bye")
			if !echoes(c) {
				t.Fatal("the hijacked connection does not echo")
			}
			began := time.Now()
			f.r.cancel()
			if line, err := c.R.ReadString('\n'); line != "bye\n" {
				t.Errorf("read %q, %v; want bye", line, err)
			}
			if !c.ClosedByPeer(t) {
				t.Error("the application did not close its connection")
			}
			f.r.expect(t, nil)
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("the drain took %v after the last connection closed", d)
			}
			if rep := f.g.Report(); rep.Hijacked != 1 || rep.ForcedClosedHijacked != 0 || rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}

// Hijacked connections that an application tracks itself can be let go from
// the server's own RegisterOnShutdown functions, which the group keeps.
func TestHijackedClosedFromRegisterOnShutdown(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: 10 * time.Second})
	conns := make(chan net.Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
		echo(g, c, brw, false)
	})
	ep := addServer(t, g, overH1, h, func(srv *http.Server) {
		srv.RegisterOnShutdown(func() { (<-conns).Close() })
	})
	r := start(t, g)
	c := ep.upgrade(t, "")
	r.cancel()
	if !c.ClosedByPeer(t) {
		t.Error("the RegisterOnShutdown function did not run")
	}
	r.expect(t, nil)
	if rep := g.Report(); rep.Hijacked != 1 || rep.ForcedClosedHijacked != 0 || rep.TimedOut {
		t.Errorf("report: %+v", rep)
	}
}

// A request in flight that hijacks its connection during the drain is
// waited for and closed at the deadline, although Go's Shutdown lets go of
// it as it hijacks.
func TestHijackDuringDrain(t *testing.T) {
	const timeout = 400 * time.Millisecond
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: timeout})
	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-g.Stopping()
		for g.Stats().State < StateDraining {
			time.Sleep(time.Millisecond)
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		echo(g, c, brw, false)
	})
	ep := addServer(t, g, overH1, g.Handler(h))
	r := start(t, g)
	c := ep.dialRaw(t)
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	began := time.Now()
	r.cancel()
	if res, err := http.ReadResponse(c.R, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("hijack during the drain: %v %v", res, err)
	}
	if !echoes(c) {
		t.Fatal("the connection hijacked during the drain does not echo")
	}
	if s := g.Stats(); s.Hijacked != 1 || s.State != StateDraining {
		t.Errorf("stats: %+v, want one hijacked connection while draining", s)
	}
	if !c.ClosedByPeer(t) {
		t.Fatal("the connection hijacked during the drain was not closed")
	}
	if d := time.Since(began); d < timeout {
		t.Errorf("closed %v after the stop, before the deadline of %v", d, timeout)
	}
	r.expect(t, ErrShutdownTimeout)
	if rep := g.Report(); rep.Hijacked != 0 || rep.ForcedClosedHijacked != 1 || rep.InFlight != 1 {
		t.Errorf("report: %+v", rep)
	}
}
