package graceful

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// DefaultShutdownTimeout is how long the servers have to drain when
// Config.ShutdownTimeout is zero: Kestrel's (HostOptions.ShutdownTimeout)
// 30 seconds.
const DefaultShutdownTimeout = 30 * time.Second

// defaultSignals are the signals that stop a [Group] when Config.Signals is
// nil.
var defaultSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// Config says how a [Group] stops. The zero Config is Kestrel's sequence with
// its 30-second timeout and no drain delay, started by SIGINT or SIGTERM.
type Config struct {
	// ShutdownTimeout is how long the servers have, from the moment their
	// listeners close, to finish the requests in flight and for hijacked
	// connections to be closed by the application. Whatever is still open
	// then is closed. Zero means [DefaultShutdownTimeout] (Kestrel's 30 s);
	// negative means no deadline: the drain waits as long as it takes, and
	// only a second signal or [Group.Shutdown]'s context cuts it short.
	ShutdownTimeout time.Duration

	// DrainDelay is how long the servers go on serving after the stop
	// begins, with their listeners open and [Group.ReadyHandler] answering
	// 503, so that a load balancer polling readiness takes the instance out
	// of rotation before its listeners close (aspnetcore #30387), while
	// [Group.Handler] asks the clients to close their connections and come
	// back through the balancer. The listeners then stay open until no
	// connection has arrived for 100 ms, 1 s at most. It comes before
	// ShutdownTimeout, not out of it. Zero means no delay, as in Kestrel:
	// the listeners close at once, and a client connecting right then may
	// have its connection reset, as with net/http alone. Negative is an
	// error.
	DrainDelay time.Duration

	// Signals are the signals that begin the stop; any of them received
	// while stopping forces the immediate close. Nil means os.Interrupt
	// (SIGINT, Ctrl+C) and SIGTERM (what systemd, Docker and Kubernetes
	// send); an empty, non-nil list or DisableSignals means no signal is
	// handled.
	Signals []os.Signal

	// DisableSignals, if true, installs no signal handler: the group stops
	// only when Run's context ends or [Group.Shutdown] is called. Use it
	// when the program already handles signals itself.
	DisableSignals bool
}

// settings is a Config validated and with its defaults filled in.
type settings struct {
	timeout time.Duration // negative: none
	delay   time.Duration
	signals []os.Signal // empty: no handler
}

func (c *Config) settings() (settings, error) {
	s := settings{timeout: c.ShutdownTimeout, delay: c.DrainDelay}
	if s.timeout == 0 {
		s.timeout = DefaultShutdownTimeout
	}
	if c.DrainDelay < 0 {
		return s, fmt.Errorf("windhover/graceful: Config.DrainDelay = %v must not be negative (0 means no delay)", c.DrainDelay)
	}
	for i, sig := range c.Signals {
		if sig == nil {
			return s, fmt.Errorf("windhover/graceful: Config.Signals[%d] is nil", i)
		}
	}
	switch {
	case c.DisableSignals:
	case c.Signals == nil:
		s.signals = defaultSignals
	default:
		s.signals = append([]os.Signal(nil), c.Signals...)
	}
	return s, nil
}
