package graceful

import (
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A signal begins the stop; the handler is installed for exactly the
// configured signals and removed when Run returns.
func TestSignalStops(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		send os.Signal
		want []os.Signal
	}{
		{"default SIGTERM", Config{}, syscall.SIGTERM, defaultSignals},
		{"default SIGINT", Config{}, os.Interrupt, defaultSignals},
		{"configured", Config{Signals: []os.Signal{syscall.SIGHUP}}, syscall.SIGHUP, []os.Signal{syscall.SIGHUP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sigs *fakeSignals
			f := startOne(t, tt.cfg, overH1, func(g *Group) { sigs = injectSignals(g) })
			g, r := f.g, f.r
			if !slices.Equal(sigs.sigs, tt.want) {
				t.Errorf("handled %v, want %v", sigs.sigs, tt.want)
			}
			sigs.send(t, tt.send)
			r.expect(t, nil)
			rep := g.Report()
			if rep.Signal != tt.send || !errors.Is(rep.Cause, ErrSignal) || !strings.Contains(rep.Cause.Error(), tt.send.String()) {
				t.Errorf("report: signal %v, cause %v", rep.Signal, rep.Cause)
			}
			sigs.mu.Lock()
			defer sigs.mu.Unlock()
			if !sigs.stopped {
				t.Error("the signal handler was not removed")
			}
		})
	}
}

func TestDisableSignals(t *testing.T) {
	for _, cfg := range []Config{{DisableSignals: true}, {Signals: []os.Signal{}}} {
		g := mustNew(t, cfg)
		sigs := injectSignals(g)
		addServer(t, g, overH1, mux(g, newGate()))
		r := start(t, g)
		select {
		case <-sigs.notified:
			t.Errorf("%+v: a signal handler was installed", cfg)
		default:
		}
		r.cancel()
		r.expect(t, nil)
	}
}

// A signal received while stopping closes everything at once, whatever
// began the stop and wherever the stop is: in the drain delay or the drain.
func TestSecondSignalForces(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		first func(*run, *fakeSignals)
		at    State
	}{
		{"in the drain", Config{}, func(r *run, s *fakeSignals) { s.send(t, syscall.SIGTERM) }, StateDraining},
		{"in the delay", Config{DrainDelay: time.Minute}, func(r *run, s *fakeSignals) { s.send(t, syscall.SIGTERM) }, StateStopping},
		{"after the context", Config{}, func(r *run, s *fakeSignals) { r.cancel() }, StateDraining},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sigs *fakeSignals
			f := startOne(t, tt.cfg, overH1, func(g *Group) { sigs = injectSignals(g) })
			g, r := f.g, f.r
			res := f.holdRequest(t)
			c := f.ep.upgrade(t, "")

			tt.first(r, sigs)
			waitState(t, g, tt.at)
			began := time.Now()
			sigs.send(t, os.Interrupt)
			err := r.wait(t)
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("Run returned %v after the second signal", d)
			}
			if !errors.Is(err, ErrForced) || !strings.Contains(err.Error(), "interrupt") {
				t.Errorf("Run: %v, want ErrForced naming the signal", err)
			}
			if got := await(t, res); got.err == nil {
				t.Errorf("the request in flight survived: %+v", got)
			}
			if !c.ClosedByPeer(t) {
				t.Error("the hijacked connection survived")
			}
			rep := g.Report()
			if !rep.Forced || rep.TimedOut || rep.ForcedClosed != 1 || rep.ForcedClosedHijacked != 1 || rep.Unfinished != 2 {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}
