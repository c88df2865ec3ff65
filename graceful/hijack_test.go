package graceful

import (
	"bufio"
	"errors"
	"io"
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
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: timeout})
			ep := addServer(t, g, tr, mux(g, newGate()))
			r := start(t, g)

			c, br := ep.upgrade(t, "")
			if !echoes(c, br) {
				t.Fatal("the hijacked connection does not echo")
			}
			if s := g.Stats(); s.Hijacked != 1 || s.Conns != 0 {
				t.Errorf("stats after the hijack: %+v", s)
			}
			began := time.Now()
			r.cancel()
			waitState(t, g, StateDraining)
			time.Sleep(timeout / 3)
			if !echoes(c, br) {
				t.Fatalf("the hijacked connection was closed %v after the stop, before the deadline", time.Since(began))
			}
			if !closedWithin(c, br, 5*time.Second) {
				t.Fatal("the hijacked connection was not closed at the deadline")
			}
			if d := time.Since(began); d < timeout {
				t.Errorf("closed %v after the stop, before the deadline of %v", d, timeout)
			}
			if err := r.wait(t); !errors.Is(err, ErrShutdownTimeout) {
				t.Errorf("Run: %v, want ErrShutdownTimeout", err)
			}
			rep := g.Report()
			if rep.Hijacked != 1 || rep.ForcedClosedHijacked != 1 || rep.ForcedClosed != 0 || !rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
			if s := g.Stats(); s.Hijacked != 0 || s.ForcedClosedHijacked != 1 {
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
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: 10 * time.Second})
			ep := addServer(t, g, tr, mux(g, newGate()))
			r := start(t, g)

			c, br := ep.upgrade(t, "bye")
			if !echoes(c, br) {
				t.Fatal("the hijacked connection does not echo")
			}
			began := time.Now()
			r.cancel()
			if line, err := br.ReadString('\n'); line != "bye\n" {
				t.Errorf("read %q, %v; want bye", line, err)
			}
			if !closedWithin(c, br, 5*time.Second) {
				t.Error("the application did not close its connection")
			}
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("the drain took %v after the last connection closed", d)
			}
			rep := g.Report()
			if rep.Hijacked != 1 || rep.ForcedClosedHijacked != 0 || rep.TimedOut {
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
	ep := addServer(t, g, overH1, h)
	ep.srv.RegisterOnShutdown(func() { (<-conns).Close() })
	r := start(t, g)
	c, br := ep.upgrade(t, "")
	r.cancel()
	if !closedWithin(c, br, 5*time.Second) {
		t.Error("the RegisterOnShutdown function did not run")
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
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
	c, err := ep.dialRaw(t)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered
	began := time.Now()
	r.cancel()
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("hijack during the drain: %v %v", res, err)
	}
	if !echoes(c, br) {
		t.Fatal("the connection hijacked during the drain does not echo")
	}
	if s := g.Stats(); s.Hijacked != 1 || s.State != StateDraining {
		t.Errorf("stats: %+v, want one hijacked connection while draining", s)
	}
	if !closedWithin(c, br, 5*time.Second) {
		t.Fatal("the connection hijacked during the drain was not closed")
	}
	if d := time.Since(began); d < timeout {
		t.Errorf("closed %v after the stop, before the deadline of %v", d, timeout)
	}
	if err := r.wait(t); !errors.Is(err, ErrShutdownTimeout) {
		t.Errorf("Run: %v, want ErrShutdownTimeout", err)
	}
	if rep := g.Report(); rep.Hijacked != 0 || rep.ForcedClosedHijacked != 1 || rep.InFlight != 1 {
		t.Errorf("report: %+v", rep)
	}
}
