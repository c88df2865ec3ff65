//go:build unix

package graceful

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// The real signal path, once: SIGTERM sent to this process begins the stop
// and a second one forces it. Safe because Run's handler is installed for
// the whole time the signals may arrive: from before the group serves until
// the forced close, which only the second signal's arrival brings.
func TestRealSignals(t *testing.T) {
	// os/signal starts its one goroutine, for good, at the first Notify.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	f := startOne(t, Config{}, overH1)
	g := f.g
	res := f.holdRequest(t)

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitState(t, g, StateDraining)
	if rep := g.Report(); rep.Signal != syscall.SIGTERM {
		t.Errorf("stopped by %v, want SIGTERM", rep.Signal)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	f.r.expect(t, ErrForced)
	if got := await(t, res); got.err == nil {
		t.Errorf("the request in flight survived: %+v", got)
	}
}
