package h1wire

import (
	"errors"
	"os"
	"time"
)

// SuspendedRecheck is how often a Conn whose timer ran out while
// Config.Suspended reported true asks again.
const SuspendedRecheck = time.Second

// suspended reports whether err, from a read of the wrapped connection, is
// one of the Conn's own timers running out while its Wire's Suspended
// function says not to enforce it (a bound of the server's, Conn.Bound,
// that ends the wait no later than the timer is enforced regardless, as the
// server would enforce it; one that ends later is not kept beside the timer,
// and waits with it); the Conn's deadline is then put a
// [SuspendedRecheck] ahead, and the read is to be retried. The timer's own
// deadline (ourDL) is kept, so that once Suspended reports false the
// timeout is decided as if nothing had happened.
func (c *Conn) suspended(err error) bool {
	if !c.inHead || c.dl == dlNone || c.bound != byTimer || c.timers == nil || c.timers.suspend == nil ||
		!errors.Is(err, os.ErrDeadlineExceeded) || !c.timers.suspend() {
		return false
	}
	return c.setDeadline(rd, time.Now().Add(SuspendedRecheck)) == nil
}
