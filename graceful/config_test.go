package graceful

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{DrainDelay: -time.Second}, "Config.DrainDelay"},
		{Config{Signals: []os.Signal{syscall.SIGTERM, nil}}, "Config.Signals[1]"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), "windhover/graceful: "+tt.field+" ") {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		cfg     Config
		timeout time.Duration
		signals []os.Signal
	}{
		{Config{}, 30 * time.Second, []os.Signal{os.Interrupt, syscall.SIGTERM}},
		{Config{ShutdownTimeout: -1, Signals: []os.Signal{syscall.SIGHUP}}, -1, []os.Signal{syscall.SIGHUP}},
		{Config{ShutdownTimeout: time.Second, DisableSignals: true}, time.Second, nil},
		{Config{Signals: []os.Signal{}}, 30 * time.Second, nil},
	}
	for _, tt := range tests {
		g := mustNew(t, tt.cfg)
		if g.s.timeout != tt.timeout || !slices.Equal(g.s.signals, tt.signals) {
			t.Errorf("%+v: timeout %v, signals %v; want %v, %v", tt.cfg, g.s.timeout, g.s.signals, tt.timeout, tt.signals)
		}
	}
}

// With no deadline the drain waits for as long as it takes.
func TestNoShutdownTimeout(t *testing.T) {
	f := startOne(t, Config{DisableSignals: true, ShutdownTimeout: -1}, overH1)
	res := f.holdRequest(t)
	f.r.cancel()
	waitState(t, f.g, StateDraining)
	time.Sleep(100 * time.Millisecond)
	f.gt.release()
	if got := await(t, res); got.code != 200 {
		t.Errorf("request: %+v", got)
	}
	f.r.expect(t, nil)
}

func TestStateString(t *testing.T) {
	want := []string{"new", "serving", "stopping", "draining", "stopped", "state_5"}
	for i, w := range want {
		if got := State(i).String(); got != w {
			t.Errorf("State(%d) = %q, want %q", i, got, w)
		}
	}
}
