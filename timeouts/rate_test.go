package timeouts

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateDefaultsAndValidation(t *testing.T) {
	assert.Equal(t, Rate{BytesPerSecond: 240, GracePeriod: 5 * time.Second}, Rate{}.withDefaults())
	assert.Equal(t, Rate{BytesPerSecond: 1000, GracePeriod: 5 * time.Second}, Rate{BytesPerSecond: 1000}.withDefaults())
	assert.True(t, Off.IsOff())
	assert.True(t, Rate{BytesPerSecond: -5, GracePeriod: time.Second}.withDefaults().IsOff())
	assert.Equal(t, "240 B/s after 5s", Rate{}.String())
	assert.Equal(t, "off", Off.String())

	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{MinRequestBodyDataRate: Rate{BytesPerSecond: math.NaN()}}, "Config.MinRequestBodyDataRate.BytesPerSecond = NaN is not a finite number"},
		{Config{MinResponseDataRate: Rate{BytesPerSecond: math.Inf(1)}}, "Config.MinResponseDataRate.BytesPerSecond"},
		{Config{MinResponseDataRate: Rate{GracePeriod: -time.Second}}, "Config.MinResponseDataRate.GracePeriod = -1s must not be negative"},
	} {
		_, err := New(tt.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
	assert.Panics(t, func() { MinDataRates(Rate{GracePeriod: -1}, Off) })
}

func TestReadDeadline(t *testing.T) {
	r := Rate{BytesPerSecond: 1000, GracePeriod: time.Second}
	now := time.Unix(1000, 0)
	// Nothing read yet: the grace period, less the time already counted.
	assert.Equal(t, now.Add(time.Second), r.readDeadline(now, 0, 0))
	assert.Equal(t, now.Add(600*time.Millisecond), r.readDeadline(now, 0, 400*time.Millisecond))
	// 5,000 bytes earn 5 s; 3 s counted leaves 2 s.
	assert.Equal(t, now.Add(2*time.Second), r.readDeadline(now, 5000, 3*time.Second))
	// Never before now.
	assert.Equal(t, now, r.readDeadline(now, 0, time.Hour))
}

func TestCreditLimit(t *testing.T) {
	r := Rate{BytesPerSecond: 1000, GracePeriod: 300 * time.Millisecond}
	now := time.Unix(1000, 0)
	// What the rate asks for the time counted, and a grace period more.
	assert.EqualValues(t, 300, r.creditLimit(0))
	assert.EqualValues(t, 2300, r.creditLimit(2*time.Second))
	// 20 KB at once banks only the grace period: the Read after it is cut
	// one grace period later, not 20 s later.
	credit := min(20_000, r.creditLimit(10*time.Millisecond))
	assert.Equal(t, now.Add(300*time.Millisecond), r.readDeadline(now, credit, 10*time.Millisecond))
	// However far ahead a client was, a stall is cut within the grace period.
	credit = min(1<<40, r.creditLimit(time.Hour))
	assert.Equal(t, now.Add(300*time.Millisecond), r.readDeadline(now, credit, time.Hour))
	// Saturates; an Off rate bounds nothing.
	assert.EqualValues(t, int64(math.MaxInt64), Rate{BytesPerSecond: 1e300, GracePeriod: time.Second}.creditLimit(time.Hour))
	assert.EqualValues(t, int64(math.MaxInt64), Off.creditLimit(time.Hour))
}

func TestWriteDeadline(t *testing.T) {
	r := Rate{BytesPerSecond: 1000, GracePeriod: time.Second}
	now := time.Unix(1000, 0)
	// A first small write gets the grace period; a large one its own time.
	assert.Equal(t, now.Add(time.Second), r.writeDeadline(now, time.Time{}, 10))
	assert.Equal(t, now.Add(3*time.Second), r.writeDeadline(now, time.Time{}, 3000))
	// Consecutive writes add to the running deadline without new grace.
	prev := now.Add(800 * time.Millisecond)
	assert.Equal(t, prev.Add(500*time.Millisecond), r.writeDeadline(now, prev, 500))
	// A running deadline long past does not shorten a new write's grace.
	assert.Equal(t, now.Add(time.Second), r.writeDeadline(now, now.Add(-time.Hour), 500))
}

func TestWriteDeadlineBanksAtMostAGracePeriod(t *testing.T) {
	r := Rate{BytesPerSecond: 1000, GracePeriod: time.Second}
	now := time.Unix(1000, 0)
	// A client that read an hour's worth at once is a grace period ahead,
	// no more: a small write after it may take the grace period and its
	// own n/rate.
	assert.Equal(t, now.Add(1500*time.Millisecond), r.writeDeadline(now, now.Add(time.Hour), 500))
	// Two seconds ahead counts as one.
	assert.Equal(t, now.Add(1500*time.Millisecond), r.writeDeadline(now, now.Add(2*time.Second), 500))
	// A large write still gets its n/rate, after the grace period's lead.
	assert.Equal(t, now.Add(4*time.Second), r.writeDeadline(now, now.Add(time.Hour), 3000))
	// A lead of up to a grace period is kept, as Kestrel keeps it.
	assert.Equal(t, now.Add(1500*time.Millisecond), r.writeDeadline(now, now.Add(time.Second), 500))
	// A client that keeps reading at the rate, in writes that each take
	// their n/rate, never loses its lead: every deadline is max(grace,
	// n/rate) after the write.
	prev := time.Time{}
	for i := range 10 {
		at := now.Add(time.Duration(i) * 500 * time.Millisecond)
		prev = r.writeDeadline(at, prev, 500)
		assert.Equal(t, at.Add(time.Second), prev, "write %d", i)
	}
}

// FuzzDeadlines checks the deadline arithmetic against its definition: a Read
// is cut exactly when the time counted reaches max(grace, bytes/rate), never
// before now, and within a grace period once the credit is bounded; a
// write's deadline is the latest of now+grace, now+n/rate and
// min(previous, now+grace)+n/rate: never earlier than the rate allows, and
// never more than grace+n/rate away.
func FuzzDeadlines(f *testing.F) {
	f.Add(240.0, int64(5000), int64(1000), int64(0), int64(100), int64(50))
	f.Add(1e9, int64(1), int64(1<<40), int64(10), int64(1<<30), int64(-3000))
	f.Add(0.001, int64(0), int64(0), int64(1<<62), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, bps float64, graceMs, bytes, countedMs, n, prevOffsetMs int64) {
		if !(bps > 0) || math.IsInf(bps, 0) || graceMs < 0 || bytes < 0 || countedMs < 0 || n < 0 {
			return
		}
		graceMs %= 1 << 40
		countedMs %= 1 << 40
		prevOffsetMs %= 1 << 40
		r := Rate{BytesPerSecond: bps, GracePeriod: time.Duration(graceMs) * time.Millisecond}.withDefaults()
		now := time.Unix(1_700_000_000, 0)
		counted := time.Duration(countedMs) * time.Millisecond
		const far = 100 * 365 * 24 * time.Hour

		d := r.readDeadline(now, bytes, counted)
		if d.Before(now) {
			t.Fatalf("read deadline %v before now", d.Sub(now))
		}
		allowed := max(r.GracePeriod, r.allowance(bytes))
		if wait := d.Sub(now); wait < far && wait != max(allowed-counted, 0) {
			t.Fatalf("read cut after %v more, want %v (allowed %v, counted %v)", wait, allowed-counted, allowed, counted)
		}
		// Credit bounded by creditLimit never buys more than a grace
		// period beyond the time counted.
		d = r.readDeadline(now, min(bytes, r.creditLimit(counted)), counted)
		if wait := d.Sub(now); counted+r.GracePeriod < far && wait > r.GracePeriod {
			t.Fatalf("bounded credit bought %v, more than the grace period %v", wait, r.GracePeriod)
		}

		var prev time.Time
		if prevOffsetMs != 0 {
			prev = now.Add(time.Duration(prevOffsetMs) * time.Millisecond)
		}
		w := r.writeDeadline(now, prev, n)
		each := r.allowance(n)
		if w.Sub(now) >= far {
			return
		}
		if w.Before(now.Add(r.GracePeriod)) || w.Before(now.Add(each)) {
			t.Fatalf("write deadline %v from now, less than grace %v or n/rate %v", w.Sub(now), r.GracePeriod, each)
		}
		lead := prev
		if lead.After(now.Add(r.GracePeriod)) {
			lead = now.Add(r.GracePeriod)
		}
		if !prev.IsZero() && w.Before(lead.Add(each)) {
			t.Fatalf("write deadline earlier than the running deadline (a grace period ahead at most) plus n/rate")
		}
		if w.After(now.Add(r.GracePeriod + each)) {
			t.Fatalf("write deadline %v from now, more than grace %v and n/rate %v: banked credit", w.Sub(now), r.GracePeriod, each)
		}
		if w != now.Add(max(r.GracePeriod, each)) && (prev.IsZero() || w != lead.Add(each)) {
			t.Fatalf("write deadline %v is none of the candidates", w.Sub(now))
		}
	})
}
