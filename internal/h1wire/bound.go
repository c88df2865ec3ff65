package h1wire

import (
	"math"
	"time"
)

// Bound tells c the bounds its server sets on the waits c's timers time, so
// that following the connection never gives a client longer than the server
// would alone: net/http times a new connection's wait for its first request
// and that request's head together, from the accept, with head
// (http.Server.ReadHeaderTimeout, or ReadTimeout where that is zero); the
// wait between requests with idle (IdleTimeout, or ReadTimeout) until the
// request's fourth byte; and a later head with head from that byte. Each of
// c's waits ends at the sooner of its timer and the matching bound; a bound
// that runs out first acts as the timer would (a silent close for a wait
// without a byte, 408 for a head), counted and reported with the bound in
// [Error.Timer]. Zero or negative is no bound. Bounds are kept in whole
// milliseconds, rounded down (at least one).
//
// Call it before the server reads from c: from http.Server.ConnContext,
// which net/http calls before it serves the connection.
func (c *Conn) Bound(idle, head time.Duration) {
	c.idleMS, c.headMS = millis(idle), millis(head)
}

// millis returns the bound d in whole milliseconds, rounded down but at least
// one, so that keeping it never makes it longer; 0 for no bound.
func millis(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(min(max(d/time.Millisecond, 1), math.MaxInt32))
}

// What a Conn's deadline stands for: its timer, or one of its server's
// bounds.
const (
	byTimer = iota
	byIdle
	byHead
)

// sooner moves *at and *by to the bound of ms milliseconds from from, by
// that name, if there is one and it ends no later: a bound that ties with
// the timer is the server's, enforced as the server would (while a debugger
// is attached, too).
func sooner(at *int64, by *uint8, from int64, ms int32, name uint8) {
	if ms <= 0 {
		return
	}
	if t := addNanos(from, time.Duration(ms)*time.Millisecond); t <= *at {
		*at, *by = t, name
	}
}

// early reports whether the head being read has fewer than the four bytes
// net/http peeks for before it stops timing the wait between requests, the
// CR and LF bytes it skips after a POST included.
func (c *Conn) early() bool {
	return c.p.st == stLine && int(c.p.skipped)+c.p.line < 4
}

// waitDeadline returns the deadline of a wait for a request's first byte,
// timed by KeepAliveTimeout d, and what it stands for: from the accept for
// the connection's first request (no byte of it has come: the first one
// starts its head), bounded by the server's head bound from the same
// moment; from now for a later one, bounded by its idle bound. Now is read
// from the monotonic clock alone, as time since the accept: one reading of
// the clock rather than time.Now's two.
func (c *Conn) waitDeadline(d time.Duration) (int64, uint8) {
	from, bound, name := c.start, c.headMS, uint8(byHead)
	if c.headed {
		from, bound, name = now(), c.idleMS, byIdle
		c.start = from // the wait's start, for an early head's idle bound
	}
	at, by := addNanos(from, d), uint8(byTimer)
	sooner(&at, &by, from, bound, name)
	return at, by
}

// headStart returns what times a head whose first byte came, timed by
// RequestHeadersTimeout d from now: its kind (dlHeaders, or dlEarly for a
// later head with fewer than four bytes whose server has bounds), deadline
// and what the deadline stands for. The first head is bounded, as net/http
// bounds it, by the head bound from the accept; a later one by the idle
// bound from the start of the wait until its fourth byte, and by the head
// bound from that byte.
func (c *Conn) headStart(d time.Duration) (uint8, int64, uint8) {
	from := now()
	at, by := addNanos(from, d), uint8(byTimer)
	switch {
	case !c.headed:
		sooner(&at, &by, c.start, c.headMS, byHead)
	case c.early() && (c.idleMS > 0 || c.headMS > 0):
		if c.dl == dlKeepAlive {
			sooner(&at, &by, c.start, c.idleMS, byIdle)
		} else if w := c.dls[rd].want.Load(); c.idleMS > 0 && w != 0 && w <= at {
			// The wait was the server's (its bytes came with the previous
			// request, or KeepAliveTimeout is off): the deadline it asked
			// for is its IdleTimeout's.
			at, by = w, byIdle
		}
		c.start = from // the head's first byte, for its timer past the fourth
		return dlEarly, at, by
	default:
		sooner(&at, &by, from, c.headMS, byHead)
	}
	return dlHeaders, at, by
}

// timer returns the duration of what the deadline in force stands for.
func (c *Conn) timer() time.Duration {
	switch {
	case c.bound == byIdle:
		return time.Duration(c.idleMS) * time.Millisecond
	case c.bound == byHead:
		return time.Duration(c.headMS) * time.Millisecond
	case c.dl == dlHeaders || c.dl == dlEarly:
		return c.timers.s.headers
	}
	return c.timers.s.keepAlive
}
