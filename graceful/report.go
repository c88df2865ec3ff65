package graceful

import (
	"os"
	"time"
)

// Report tells how a [Group] stopped: what began the stop, what was in flight
// then, and how the drain ended. [Group.Report] returns it; it is final once
// [Group.Stopped] is closed.
//
// Requests are counted only if they pass through [Group.Handler];
// connections are counted through the ConnState hook of every server added.
type Report struct {
	// Cause is why the stop began, the cause of [Group.Context].
	Cause error
	// Signal is the signal that began the stop, or nil.
	Signal os.Signal
	// Began is when the stop began.
	Began time.Time
	// Duration is how long the stop took, from Began to every connection
	// closed.
	Duration time.Duration
	// DrainDelay is how long the servers went on serving with their
	// listeners open: Config.DrainDelay and the wait for connections to
	// stop arriving, or less if the close was forced.
	DrainDelay time.Duration

	// InFlight is the number of requests in flight when the stop began.
	InFlight int64
	// Completed is the number of requests that completed after the stop
	// began, before any connection was closed under them: those in flight
	// then and those that arrived during the drain delay or on connections
	// still open.
	Completed int64
	// Unfinished is the number of requests whose handlers were still
	// running when the connections left were closed at the deadline or by
	// force, or, after a drain that finished in time, when the group
	// stopped (handlers of hijacked connections that outlive them).
	Unfinished int64

	// Conns is the number of connections open when the stop began, not
	// counting hijacked ones.
	Conns int64
	// Hijacked is the number of hijacked connections open when the stop
	// began.
	Hijacked int64
	// ForcedClosed is the number of connections, not hijacked, closed at
	// the deadline or by force.
	ForcedClosed int64
	// SilentClosed is the number of TCP connections closed during the
	// drain whose clients had sent not a byte since they were accepted, as
	// the kernel counts them, nor while the drain waited for their first
	// request (a browser's speculative preconnect, say): net/http's
	// Shutdown would have left each open for up to 5 s, counting it as a
	// request on its way. Linux only: elsewhere the drain cannot tell a
	// silent connection from one whose request it has not read yet, and
	// leaves them all to Shutdown.
	SilentClosed int64
	// ForcedClosedHijacked is the number of hijacked connections the group
	// closed: at the deadline or by force, or, hijacked after the drain
	// ended, as they arrived.
	ForcedClosedHijacked int64

	// TimedOut reports whether the shutdown timeout passed with
	// connections still open.
	TimedOut bool
	// Forced reports whether a second signal or the end of Shutdown's
	// context closed everything without waiting for the drain.
	Forced bool
}

// Report returns the report of the stop: zero before it begins, partial
// while it runs, final once [Group.Stopped] is closed.
func (g *Group) Report() Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.report
}
