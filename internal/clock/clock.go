// Package clock reads the time from the monotonic clock alone, for the
// per-request paths of the policies.
//
// time.Now reads two clocks, the wall clock and the monotonic one; where
// the clock source is slow (a virtual machine's kvm-clock, on which each
// reading costs 20–30 ns) that doubles its cost. A deadline, a duration or
// a token bucket needs only the monotonic clock, which every comparison and
// subtraction of two times that both carry it uses.
package clock

import "time"

// epoch is the time the process began to use the package: the one reading
// of the wall clock.
var epoch = time.Now()

// Now returns the current time from one reading of the monotonic clock. It
// carries a monotonic reading, so time.Until, Sub, Before and the deadlines
// of net.Conn and http.ResponseController use it as they use time.Now's.
// Its wall-clock part is epoch's plus the time elapsed since, so it does not
// follow a step or slew of the system's wall clock after epoch: use it for
// deadlines and durations, never for a time shown or sent.
func Now() time.Time { return epoch.Add(time.Since(epoch)) }

// Nanos returns the nanoseconds since epoch, from one reading of the
// monotonic clock: the compact form of [Now] for a record that keeps a
// moment and only ever subtracts it from another.
func Nanos() int64 { return int64(time.Since(epoch)) }
