package redisstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/windhover/windhover/limits"
	"golang.org/x/time/rate"
)

// testScript is the store's script with the clock given as ARGV[4] and
// ARGV[5], seconds and nanoseconds, so that its arithmetic can be tested at
// chosen instants.
var testScript = newScript("local now_s = tonumber(ARGV[4])\nlocal now_ns = tonumber(ARGV[5])" + scriptBody)

// tat is a stored TAT.
type tat struct {
	s  float64
	ns float64
}

// model is the script's arithmetic in Go, step for step in float64 as Lua
// computes it: the bucket's stored TAT (has is false for no key) at the
// instant nowS seconds and nowNS nanoseconds.
func model(old tat, has bool, nowS, nowNS, t, tau float64) (allowed bool, stored tat, d int64) {
	var ahead float64
	if has {
		ahead = max((old.s-nowS)*1e9+(old.ns-nowNS), 0)
	}
	n := ahead + t
	if n > tau+1 {
		return false, old, int64(math.Floor(ahead + 0.5))
	}
	ns := nowNS + n
	s := math.Floor(ns / 1e9)
	return true, tat{nowS + s, ns - s*1e9}, int64(math.Floor(n + 0.5))
}

// A step is one request at an instant, in microseconds from the test's
// start.
type step struct {
	at        float64
	allowed   bool
	remaining int
}

// The cases sit at the bucket's edges: the last token of a burst and the
// one after it, a token's arrival a microsecond early and on time,
// emission intervals that are not whole microseconds, a bucket idle long
// enough to refill and past its key's expiry.
var scriptCases = []struct {
	name  string
	q     limits.Quota
	steps []step
}{
	{"burst 3 at 1/s", limits.Quota{Rate: 1, Burst: 3}, []step{
		{0, true, 2}, {0, true, 1}, {0, true, 0}, {0, false, 0},
		{999_999, false, 0}, {1_000_000, true, 0}, {1_000_000, false, 0},
		{10_000_000, true, 2},
	}},
	{"a third of a second", limits.Quota{Rate: 3, Burst: 1}, []step{
		// Late by a microsecond, the next token is too.
		{0, true, 0}, {333_333, false, 0}, {333_334, true, 0}, {666_667, false, 0}, {666_668, true, 0},
	}},
	{"1000/s burst 10", limits.Quota{Rate: 1000, Burst: 10}, []step{
		{0, true, 9}, {0, true, 8}, {0, true, 7}, {0, true, 6}, {0, true, 5},
		{0, true, 4}, {0, true, 3}, {0, true, 2}, {0, true, 1}, {0, true, 0},
		{0, false, 0}, {999, false, 0}, {1000, true, 0}, {5000, true, 3}, {20_000, true, 9},
	}},
	{"a microsecond apart", limits.Quota{Rate: 1e6, Burst: 1}, []step{
		{0, true, 0}, {0, false, 0}, {1, true, 0}, {1, false, 0}, {3, true, 0},
	}},
	{"once in 1000 s", limits.Quota{Rate: 0.001, Burst: 2}, []step{
		{0, true, 1}, {0, true, 0}, {0, false, 0}, {999_999_999, false, 0}, {1_000_000_000, true, 0},
	}},
	{"7/s, burst 7", limits.Quota{Rate: 7, Burst: 7}, []step{
		{0, true, 6}, {0, true, 5}, {0, true, 4}, {0, true, 3}, {0, true, 2}, {0, true, 1}, {0, true, 0},
		{0, false, 0}, {142_857, false, 0}, {142_858, true, 0}, {142_858, false, 0}, {285_715, true, 0},
	}},
}

// TestScriptArithmetic runs the script on Redis at chosen instants and
// checks each reply and stored TAT against the model, and each Decision
// against a MemoryStore's for the same requests at the same instants.
func TestScriptArithmetic(t *testing.T) {
	s, srv := newStore(t, Config{})
	c := s.c
	ctx := context.Background()
	// Far in the future, where Unix time in nanoseconds is far beyond a
	// double's exact integers.
	const startS, startNS = 4_000_000_000, 999_999_000
	for _, tc := range scriptCases {
		t.Run(tc.name, func(t *testing.T) {
			a := newQuotaArgs(tc.q)
			key := "test:" + tc.name
			mem := limits.NewMemoryStore(0)
			memStart := time.Unix(1_800_000_000, 0)
			var old tat
			has := false
			for i, st := range tc.steps {
				ns := startNS + st.at*1000
				nowS, nowNS := float64(startS)+math.Floor(ns/1e9), math.Mod(ns, 1e9)
				// The key's expiry is real time, which stands still here.
				args := append(append([]string(nil), a.args[:2]...), "60000",
					strconv.FormatFloat(nowS, 'f', -1, 64), strconv.FormatFloat(nowNS, 'f', -1, 64))
				r, err := c.Eval(ctx, testScript.src, key, args)
				if err != nil {
					t.Fatal(err)
				}
				t1, _ := strconv.ParseFloat(a.args[0], 64)
				tau, _ := strconv.ParseFloat(a.args[1], 64)
				allowed, newTAT, d := model(old, has, nowS, nowNS, t1, tau)
				if got := [2]int64{r[0], r[1]}; got != [2]int64{b2i(allowed), d} {
					t.Fatalf("step %d at %v µs: script replied %v, the model %v", i, st.at, got, [2]int64{b2i(allowed), d})
				}
				if allowed {
					old, has = newTAT, true
					stored, err := srv.Do("GET", key)
					if err != nil {
						t.Fatal(err)
					}
					if want := fmt.Sprintf("%d:%s", int64(newTAT.s), lua17g(newTAT.ns)); stored != want {
						t.Fatalf("step %d: stored TAT %s, the model %v", i, stored, newTAT)
					}
				}
				got := a.decision(r[0] == 1, r[1])
				if got.Allowed != st.allowed || got.Remaining != st.remaining {
					t.Fatalf("step %d at %v µs: allowed %v remaining %d, want %v %d", i, st.at, got.Allowed, got.Remaining, st.allowed, st.remaining)
				}
				want, err := mem.Allow(ctx, key, tc.q, memStart.Add(time.Duration(st.at*1000)))
				if err != nil {
					t.Fatal(err)
				}
				if got.Allowed != want.Allowed || got.Remaining != want.Remaining ||
					absDiff(got.Reset, want.Reset) > time.Microsecond || absDiff(got.RetryAfter, want.RetryAfter) > time.Microsecond {
					t.Fatalf("step %d at %v µs: Redis decided %+v, the MemoryStore %+v", i, st.at, got, want)
				}
			}
		})
	}
}

// TestScriptExpiry checks that a bucket's key expires no later than it
// would be full again.
func TestScriptExpiry(t *testing.T) {
	s, srv := newStore(t, Config{})
	q := limits.Quota{Rate: 10, Burst: 5} // full after 500 ms
	if _, err := s.Allow(context.Background(), "k", q, time.Now()); err != nil {
		t.Fatal(err)
	}
	ttl, err := srv.Do("PTTL", DefaultPrefix+"k")
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := strconv.Atoi(ttl); ms <= 0 || ms > 500 {
		t.Fatalf("PTTL = %s ms, want within (0, 500]", ttl)
	}
}

// TestQuotaArgs checks the arguments and the Decision arithmetic without
// Redis.
func TestQuotaArgs(t *testing.T) {
	a := newQuotaArgs(limits.Quota{Rate: 4, Burst: 2})
	if want := []string{"2.5e+08", "5e+08", "500"}; a.args[0] != want[0] || a.args[1] != want[1] || a.args[2] != want[2] {
		t.Fatalf("args = %q, want %q", a.args, want)
	}
	// Refused with the TAT 500 ms ahead: the next token in 250 ms.
	d := a.decision(false, int64(500*time.Millisecond))
	if d.Allowed || d.Remaining != 0 || d.Reset != 500*time.Millisecond || d.RetryAfter != 250*time.Millisecond {
		t.Fatalf("decision = %+v", d)
	}
	// A tiny quota's expiry is a millisecond, never zero.
	if a := newQuotaArgs(limits.Quota{Rate: rate.Limit(1e9), Burst: 1}); a.args[2] != "1" {
		t.Fatalf("expiry = %s, want 1", a.args[2])
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

// lua17g formats f as Lua's string.format('%.17g') does, which is C's.
func lua17g(f float64) string {
	s := strconv.FormatFloat(f, 'g', 17, 64)
	return s
}
