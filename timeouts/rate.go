package timeouts

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kestrel's minimum data rate, for request bodies and responses alike.
const (
	DefaultBytesPerSecond = 240
	DefaultGracePeriod    = 5 * time.Second
)

// Rate is a minimum data rate with a grace period (Kestrel's MinDataRate):
// once the grace period has passed, the bytes moved divided by the time
// counted must stay at or above BytesPerSecond. For request bodies and
// responses alike, bytes that put the client more than a grace period ahead
// of the rate are not banked (see the package documentation).
//
// The zero Rate is Kestrel's default, 240 bytes per second after 5 seconds.
// A negative BytesPerSecond, as in [Off], switches the minimum off.
type Rate struct {
	// BytesPerSecond is the minimum. Zero means 240; negative means no
	// minimum; NaN and infinities are errors.
	BytesPerSecond float64
	// GracePeriod is how long a transfer may run below the minimum before
	// it is enforced. Zero means 5 s; negative is an error.
	GracePeriod time.Duration
}

// Off is a Rate that switches a minimum off: for long polling, server-sent
// events, WebSockets, streaming uploads, or any transfer whose pace the
// application, not the client, sets.
var Off = Rate{BytesPerSecond: -1}

// IsOff reports whether r switches the minimum off.
func (r Rate) IsOff() bool { return r.BytesPerSecond < 0 }

// String describes r, as "240 B/s after 5s" or "off".
func (r Rate) String() string {
	if r.IsOff() {
		return "off"
	}
	r = r.withDefaults()
	return strconv.FormatFloat(r.BytesPerSecond, 'g', -1, 64) + " B/s after " + r.GracePeriod.String()
}

func (r Rate) withDefaults() Rate {
	if r.IsOff() {
		return Off
	}
	if r.BytesPerSecond == 0 {
		r.BytesPerSecond = DefaultBytesPerSecond
	}
	if r.GracePeriod == 0 {
		r.GracePeriod = DefaultGracePeriod
	}
	return r
}

func (r Rate) validate(field string) error {
	if math.IsNaN(r.BytesPerSecond) || math.IsInf(r.BytesPerSecond, 0) {
		return fmt.Errorf("windhover/timeouts: %s.BytesPerSecond = %v is not a finite number", field, r.BytesPerSecond)
	}
	if r.GracePeriod < 0 {
		return fmt.Errorf("windhover/timeouts: %s.GracePeriod = %v must not be negative", field, r.GracePeriod)
	}
	return nil
}

// allowance is how long n bytes may take at rate r: n/r, without grace.
// It saturates instead of overflowing.
func (r Rate) allowance(n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	d := float64(n) / r.BytesPerSecond * float64(time.Second)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// addSaturating adds d to t, stopping short of overflow.
func addSaturating(t time.Time, d time.Duration) time.Time {
	const far = 100 * 365 * 24 * time.Hour
	return t.Add(min(d, far))
}

// readDeadline is when a Read starting now breaks rate r, given the bytes
// credited and the time counted before it: when counted time reaches
// max(grace, credit/r). It is never before now.
func (r Rate) readDeadline(now time.Time, credit int64, counted time.Duration) time.Time {
	allowed := max(r.GracePeriod, r.allowance(credit))
	return addSaturating(now, max(allowed-counted, 0))
}

// creditLimit is the most a request body may have credited once time
// counted reaches counted: what rate r asks for that time, and a grace
// period's worth more. Bytes beyond it are not banked, so that credit/r
// never exceeds counted+grace, and a client that stops sending is cut at
// most one grace period of counted time after the Read that returned its
// last bytes, however far ahead of the rate it was before. It saturates
// instead of overflowing, and sets no bound when r is off.
func (r Rate) creditLimit(counted time.Duration) int64 {
	c := r.BytesPerSecond * (counted.Seconds() + r.GracePeriod.Seconds())
	if c >= math.MaxInt64 || r.IsOff() {
		return math.MaxInt64
	}
	return int64(c)
}

// writeDeadline is the running deadline after a write of n bytes begins at
// now, given the running deadline before it (zero if none): the write may
// take max(grace, n/r) from now, and consecutive writes add n/r to the
// previous deadline without a new grace period. A client that read faster
// than r is ahead of the rate by what is left of the previous deadline; it
// banks no more than a grace period of that lead, so that the deadline is
// never more than grace + n/r away, and a client that stops reading is cut
// at most a grace period after the write that finds it stopped has had its
// own n/r, however far ahead of the rate it was before.
func (r Rate) writeDeadline(now, prev time.Time, n int64) time.Time {
	each := r.allowance(n)
	single := addSaturating(now, max(r.GracePeriod, each))
	if prev.IsZero() {
		return single
	}
	if lead := addSaturating(now, r.GracePeriod); prev.After(lead) {
		prev = lead
	}
	if accumulated := addSaturating(prev, each); accumulated.After(single) {
		return accumulated
	}
	return single
}
