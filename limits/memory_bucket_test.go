package limits

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// TestMemoryBucketMatchesRateLimiter runs the MemoryStore's bucket and a
// golang.org/x/time/rate.Limiter side by side over random requests at random
// instants, for rates from one a day to 700 million a second, with quota
// changes: every request must get the same answer and see the same number of
// tokens, except a hair's breadth from a whole token, where the two float
// computations may round differently, and where rate.Limiter allows a
// request less than a nanosecond's refill short of a token.
func TestMemoryBucketMatchesRateLimiter(t *testing.T) {
	quotas := []Quota{
		{Rate: 2, Burst: 3},
		{Rate: 7, Burst: 7},
		{Rate: 0.3, Burst: 1},
		{Rate: rate.Every(24 * time.Hour), Burst: 5},
		{Rate: 1000, Burst: 1},
		{Rate: 7e8, Burst: 1000},
		{Rate: 1e9, Burst: 1 << 30},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		s := NewMemoryStore(10)
		k := memKey{s: "k"}
		q := quotas[rng.IntN(len(quotas))]
		at := time.Unix(1_800_000_000, int64(rng.IntN(1e9)))
		lim := fullLimiter(q, at)
		for step := range 300 {
			// Steps from none to several emission intervals.
			at = at.Add(time.Duration(rng.Float64() * 3 * float64(time.Second) / float64(q.Rate)))
			if rng.IntN(50) == 0 {
				// A new quota, which the store learns of with the
				// request.
				q = quotas[rng.IntN(len(quotas))]
				lim.SetLimitAt(at, q.Rate)
				lim.SetBurstAt(at, q.Burst)
			}
			before := lim.TokensAt(at)
			want := lim.AllowN(at, 1)
			got := s.take(k, q, at.UnixNano(), true, 0)
			// rate.Limiter allows a request short of a token by less
			// than a nanosecond's refill; the store does not.
			slack := max(1e-6, float64(q.Rate)/1e9)
			near := math.Abs(before-1) < slack
			if got.Allowed != want && !near {
				t.Fatalf("round %d step %d, quota %+v: allowed %v, rate.Limiter %v with %v tokens", round, step, q, got.Allowed, want, before)
			}
			if got.Allowed != want {
				// Rounding put them on either side of a token: carry on
				// from the Limiter's state.
				s, lim = NewMemoryStore(10), fullLimiter(q, at)
				continue
			}
			if tokens := lim.TokensAt(at); float64(got.Remaining) != math.Floor(tokens) &&
				math.Abs(tokens-math.Round(tokens)) > slack {
				t.Fatalf("round %d step %d, quota %+v: %d tokens remaining, rate.Limiter %v", round, step, q, got.Remaining, tokens)
			}
		}
	}
}

// fullLimiter returns a rate.Limiter for q whose bucket is full at at, as a
// new key's is.
func fullLimiter(q Quota, at time.Time) *rate.Limiter {
	lim := rate.NewLimiter(q.Rate, q.Burst)
	lim.AllowN(at.Add(-100*365*24*time.Hour), 0) // dated back, it has refilled by at
	return lim
}

// TestMemoryBucketOneKeyManyCores takes tokens for one key from several
// goroutines at once, each with its own read lock as requests on several
// cores would: exactly the burst is allowed, none twice and none lost.
func TestMemoryBucketOneKeyManyCores(t *testing.T) {
	const burst, goroutines, tries = 1000, 8, 500
	s := NewMemoryStore(0)
	q := Quota{Rate: rate.Every(time.Hour), Burst: burst}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	now := time.Now()
	for g := range goroutines {
		wg.Go(func() {
			for range tries {
				if s.take(memKey{s: "one"}, q, now.UnixNano(), g%2 == 0, g).Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, burst, allowed.Load())
	d := s.take(memKey{s: "one"}, q, now.UnixNano(), true, 0)
	assert.False(t, d.Allowed)
	assert.Equal(t, time.Hour, d.RetryAfter.Round(time.Second), "a token an hour after the burst was spent")
}

// TestMemoryEntryLayout keeps a bucket's entry on two cache lines of its own:
// the key and what requests rarely write on the first, the bucket, which
// every request for the key writes, on the second, so that requests for one
// key on several cores contend for one line only, and entries side by side
// for none.
func TestMemoryEntryLayout(t *testing.T) {
	var e memEntry
	require.EqualValues(t, 128, unsafe.Sizeof(e))
	assert.Less(t, unsafe.Offsetof(e.fill), uintptr(64))
	assert.Less(t, unsafe.Offsetof(e.visited), uintptr(64))
	assert.Less(t, unsafe.Offsetof(e.last), uintptr(64))
	assert.EqualValues(t, 64, unsafe.Offsetof(e.q))
	assert.Less(t, unsafe.Offsetof(e.full), uintptr(128))
	var sh memShard
	assert.EqualValues(t, 128, unsafe.Sizeof(sh.readers[0]), "each read lock on lines of its own")
}

// TestMemoryBucketOutOfOrder decides two requests of one client whose
// readings of the clock reach the bucket in the other order (two cores read
// the clock, and the later reading takes its token first), a microsecond
// apart, against rate.Limiter, which decides the earlier one as if no time
// had passed: a new key's full bucket of 2 and an idle one both give both
// tokens, where measuring the earlier request from the later one's time
// would charge it the gap and refuse it.
func TestMemoryBucketOutOfOrder(t *testing.T) {
	for _, fresh := range []bool{true, false} {
		q := Quota{Rate: 1, Burst: 2}
		s := NewMemoryStore(0)
		lim := rate.NewLimiter(q.Rate, q.Burst)
		later := time.Unix(1_800_000_000, 0)
		if !fresh {
			_, _ = s.Allow(context.Background(), "k", q, later.Add(-time.Hour))
			lim.AllowN(later.Add(-time.Hour), 1)
		}
		for i, at := range []time.Time{later, later.Add(-time.Microsecond)} {
			want := lim.AllowN(at, 1)
			got, err := s.Allow(context.Background(), "k", q, at)
			require.NoError(t, err)
			assert.Equal(t, want, got.Allowed, "new key %v, request %d at %v: %+v", fresh, i, at.Sub(later), got)
		}
	}
}

// TestMemoryBucketLongLivedKey takes tokens at 7x10^8 a second, a quota
// Quota.valid accepts, 300 days after the key came: a bucket measured from
// the key's arrival would have times whose float64 step (4 ns) exceeds the
// 1.43 ns a token takes, and give every token away. Measured anew every
// span, it gives the burst, as rate.Limiter does.
func TestMemoryBucketLongLivedKey(t *testing.T) {
	q := Quota{Rate: 7e8, Burst: 1000}
	s := NewMemoryStore(0)
	t0 := time.Unix(1_800_000_000, 0)
	s.take(memKey{s: "k"}, q, t0.UnixNano(), false, 0)
	at := t0.Add(300 * 24 * time.Hour)
	lim := rate.NewLimiter(q.Rate, q.Burst)
	allowed, want := 0, 0
	for range 5000 {
		if s.take(memKey{s: "k"}, q, at.UnixNano(), false, 0).Allowed {
			allowed++
		}
		if lim.AllowN(at, 1) {
			want++
		}
	}
	assert.Equal(t, want, allowed, "at one instant, 300 days after the key came")
}
