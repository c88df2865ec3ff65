package graceful

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Shutdown waits for the drain; its context bounds the wait, after which
// everything is closed at once.
func TestShutdown(t *testing.T) {
	t.Run("drained", func(t *testing.T) {
		f := startOne(t, Config{DisableSignals: true}, overH1)
		g, r := f.g, f.r
		res := f.holdRequest(t)
		done := make(chan error, 1)
		go func() { done <- g.Shutdown(context.Background()) }()
		waitState(t, g, StateDraining)
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned with a request in flight: %v", err)
		default:
		}
		f.gt.release()
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if s := g.Stats().State; s != StateStopped {
			t.Errorf("Shutdown returned in state %v", s)
		}
		r.expect(t, nil)
		if got := await(t, res); got.code != 200 {
			t.Errorf("request: %+v", got)
		}
		if rep := g.Report(); !errors.Is(rep.Cause, ErrShutdownCalled) || rep.Completed != 1 {
			t.Errorf("report: %+v", rep)
		}
	})

	t.Run("context timeout", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		f := startOne(t, Config{DisableSignals: true}, overH2)
		g, r := f.g, f.r
		res := f.holdRequest(t)
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := g.Shutdown(ctx)
		if d := time.Since(began); d < timeout || d > timeout+3*time.Second {
			t.Errorf("Shutdown returned after %v; its context lasted %v", d, timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
		}
		if s := g.Stats().State; s != StateStopped {
			t.Errorf("Shutdown returned in state %v", s)
		}
		r.expect(t, ErrForced)
		if err := r.wait(t); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Shutdown") {
			t.Errorf("Run: %v, want ErrForced by Shutdown's context", err)
		}
		if got := await(t, res); got.err == nil {
			t.Errorf("the request in flight survived: %+v", got)
		}
		if rep := g.Report(); !rep.Forced || rep.ForcedClosed != 1 {
			t.Errorf("report: %+v", rep)
		}
	})

	t.Run("before Run", func(t *testing.T) {
		checkNoLeaks(t)
		g := mustNew(t, Config{DisableSignals: true})
		called := make(chan struct{})
		g.OnStopping(func() { close(called) })
		ep := addServer(t, g, overUnix, mux(g, newGate()))
		if err := g.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := g.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Shutdown: %v, want ErrClosed", err)
		}
		if !ep.refused() {
			t.Error("the listener is open")
		}
		<-called
		<-g.Stopped()
		if s := g.Stats().State; s != StateStopped {
			t.Errorf("state %v", s)
		}
	})
}
