package redisstore

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/windhover/windhover/limits"
)

// TestSharedAcrossStores: two Stores on one Redis, as two instances are,
// share each key's bucket, whatever their clocks say.
func TestSharedAcrossStores(t *testing.T) {
	a, srv := newStore(t, Config{})
	b, err := New(Rueidis(newClient(t, srv.Addr)), Config{Mode: FailClosed, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := limits.Quota{Rate: 0.01, Burst: 4}
	skewed := time.Now().Add(365 * 24 * time.Hour) // b's clock is a year off
	allowed := 0
	for i := range 10 {
		s, now := a, time.Now()
		if i%2 == 1 {
			s, now = b, skewed
		}
		d, err := s.Allow(ctx, "client", q, now)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("allowed %d of 10 across two stores, want the burst, 4", allowed)
	}
	if d, _ := a.Allow(ctx, "other", q, time.Now()); !d.Allowed || d.Remaining != 3 {
		t.Fatalf("another key: %+v, want allowed with 3 left", d)
	}
}

// TestNoScript: a server that forgot the script (restarted, or SCRIPT
// FLUSH) gets it again, in the same call.
func TestNoScript(t *testing.T) {
	s, srv := newStore(t, Config{})
	ctx := context.Background()
	q := limits.Quota{Rate: 100, Burst: 100}
	for range 2 {
		if _, err := srv.Do("SCRIPT", "FLUSH"); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Allow(ctx, "k", q, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("after SCRIPT FLUSH: %+v, %v", d, err)
		}
		if d, err := s.Allow(ctx, "k", q, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("after SCRIPT FLUSH, again: %+v, %v", d, err)
		}
	}
	if st := s.Stats(); st.ScriptLoads != 2 || st.Decided != 4 || st.FailuresTotal() != 0 {
		t.Fatalf("stats %+v, want 2 script loads, 4 decisions, no failure", st)
	}
}

// TestOneRoundTrip counts the commands the server runs for a request: one
// EVALSHA, and nothing else from the client.
func TestOneRoundTrip(t *testing.T) {
	s, srv := newStore(t, Config{})
	ctx := context.Background()
	q := limits.Quota{Rate: 100, Burst: 100}
	if _, err := s.Allow(ctx, "warm", q, time.Now()); err != nil { // loads the script
		t.Fatal(err)
	}
	if _, err := srv.Do("CONFIG", "RESETSTAT"); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if _, err := s.Allow(ctx, string(rune('a'+i%26)), q, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	calls, err := srv.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	// Commands a script runs are counted too: TIME, GET and SET.
	for cmd, c := range calls {
		switch cmd {
		case "evalsha":
			if c != n {
				t.Errorf("evalsha ran %d times for %d requests", c, n)
			}
		case "time", "get", "set", "config|resetstat", "info",
			// A client's handshake on a connection it opens.
			"hello", "client|setinfo", "client|tracking", "ping", "select", "auth":
		default:
			t.Errorf("%s ran %d times", cmd, c)
		}
	}
}

func TestInvalidQuota(t *testing.T) {
	s, err := New(Rueidis(nil), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []limits.Quota{{}, {Rate: 1}, {Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1e-12, Burst: 10}} {
		if _, err := s.Allow(context.Background(), "k", q, time.Now()); !errors.Is(err, limits.ErrInvalidQuota) {
			t.Errorf("Allow(%+v) = %v, want ErrInvalidQuota", q, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Timeout: -1}, "Timeout"},
		{Config{Mode: numModes}, "Mode"},
		{Config{Mode: -1}, "Mode"},
		{Config{Instances: -1}, "Instances"},
		{Config{MaxKeys: -1}, "MaxKeys"},
		{Config{ProbeInterval: -1}, "ProbeInterval"},
	} {
		if _, err := New(Rueidis(nil), tc.cfg); err == nil || !strings.Contains(err.Error(), "Config."+tc.field) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestModes stops Redis under each mode: every request is answered as the
// mode says within the timeout, Redis is asked once a probe interval, and
// once it is back the shared limit returns without a restart.
func TestModes(t *testing.T) {
	const timeout = 500 * time.Millisecond
	const probe = 200 * time.Millisecond
	q := limits.Quota{Rate: 0.001, Burst: 4} // no refill within the test
	for _, mode := range []Mode{Fallback, FailOpen, FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			s, srv := newStore(t, Config{Mode: mode, Timeout: timeout, ProbeInterval: probe, Instances: 2})
			ctx := context.Background()
			allow := func() (limits.Decision, error) {
				t.Helper()
				start := time.Now()
				d, err := s.Allow(ctx, "client", q, time.Now())
				if el := time.Since(start); el > timeout+time.Second {
					t.Fatalf("Allow took %v, with a timeout of %v", el, timeout)
				}
				return d, err
			}
			for range 4 {
				if d, err := allow(); err != nil || !d.Allowed {
					t.Fatalf("with Redis: %+v, %v", d, err)
				}
			}
			if d, _ := allow(); d.Allowed {
				t.Fatal("with Redis: the fifth request was allowed")
			}

			srv.Stop()
			var allowed, refused, failed int
			for range 20 {
				d, err := allow()
				switch {
				case err != nil:
					failed++
					if !errors.Is(err, ErrUnavailable) {
						t.Fatalf("error %v, want ErrUnavailable", err)
					}
				case d.Allowed:
					allowed++
				default:
					refused++
				}
			}
			switch mode {
			case Fallback: // half the burst, locally
				if allowed != 2 || refused != 18 {
					t.Fatalf("fallback without Redis: %d allowed, %d refused, %d failed; want 2, 18, 0", allowed, refused, failed)
				}
			case FailOpen:
				if allowed != 20 {
					t.Fatalf("fail open without Redis: %d allowed, %d refused, %d failed", allowed, refused, failed)
				}
			case FailClosed:
				if failed != 20 {
					t.Fatalf("fail closed without Redis: %d allowed, %d refused, %d failed", allowed, refused, failed)
				}
			}
			st := s.Stats()
			if !st.Down || st.Degraded[mode] != 20 || st.FailuresTotal() == 0 || st.FailuresTotal() > 2 || st.Skipped < 18 {
				t.Fatalf("stats without Redis: %+v; want down, 20 degraded, a failure or two, the rest skipped", st)
			}

			srv.Restart()
			// Within a probe interval or two, Redis decides again, and the
			// shared limit returns: a full bucket of 4, then a refusal. A
			// client's stale connection may fail a request or two after the
			// first success, so the bucket is emptied and tried again
			// until a round goes through with no failure.
			waitUp(t, s, allow, probe)
			deadline := time.Now().Add(10 * time.Second)
			for {
				if time.Now().After(deadline) {
					t.Fatalf("Redis back for 10 s, and the limit not shared again: %+v", s.Stats())
				}
				if _, err := srv.Do("FLUSHALL"); err != nil {
					t.Fatal(err)
				}
				before := s.Stats()
				n := 0
				for {
					d, err := allow()
					if err != nil || !d.Allowed {
						break
					}
					n++
				}
				after := s.Stats()
				if after.FailuresTotal() == before.FailuresTotal() && after.Degraded == before.Degraded {
					if n != 4 || after.Decided-before.Decided != 5 {
						t.Fatalf("after the restart %d allowed (want the burst, 4); stats before %+v, after %+v", n, before, after)
					}
					break
				}
				time.Sleep(probe)
			}
			if s.Stats().Recoveries == 0 {
				t.Fatal("no recovery counted")
			}
		})
	}
}

// waitUp makes requests until five in a row are decided by Redis, for at
// most 5 s.
func waitUp(t *testing.T, s *Store, allow func() (limits.Decision, error), probe time.Duration) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for streak := 0; streak < 5; {
		if time.Now().After(deadline) {
			t.Fatalf("Redis back for 5 s and still not deciding: %+v", s.Stats())
		}
		before := s.Stats().Decided
		_, _ = allow()
		if s.Stats().Decided > before {
			streak++
		} else {
			streak = 0
			time.Sleep(probe / 4)
		}
	}
}

// TestTimeout: a Redis that has stopped answering (paused, with its
// connections open) costs the request that finds out the timeout, no more;
// the requests until the next probe do not ask it; resumed, it decides
// again.
func TestTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const probe = 300 * time.Millisecond
	s, srv := newStore(t, Config{Mode: FailOpen, Timeout: timeout, ProbeInterval: probe})
	q := limits.Quota{Rate: 1000, Burst: 1000}
	ctx := context.Background()
	if d, err := s.Allow(ctx, "k", q, time.Now()); err != nil || !d.Allowed {
		t.Fatalf("with Redis: %+v, %v", d, err)
	}
	if st := s.Stats(); st.Decided != 1 {
		t.Fatalf("Redis did not decide the first request: %+v", st)
	}
	srv.Pause()
	start := time.Now()
	d, err := s.Allow(ctx, "k", q, time.Now())
	el := time.Since(start)
	if err != nil || !d.Allowed {
		t.Fatalf("fail open: %+v, %v", d, err)
	}
	if el < timeout || el > timeout+500*time.Millisecond {
		t.Fatalf("the request that found Redis paused took %v, want about the timeout, %v", el, timeout)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			start := time.Now()
			if d, err := s.Allow(ctx, "k", q, time.Now()); err != nil || !d.Allowed {
				t.Errorf("%+v, %v", d, err)
			}
			if el := time.Since(start); el > timeout+500*time.Millisecond {
				t.Errorf("a request took %v, with a timeout of %v", el, timeout)
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Failures[FailureTimeout] < 1 || st.Failures[FailureTimeout] > 2 || st.Skipped < 48 {
		t.Fatalf("stats %+v; want a timeout or two, the rest skipped", st)
	}
	srv.Resume()
	waitUp(t, s, func() (limits.Decision, error) { return s.Allow(ctx, "k", q, time.Now()) }, probe)
}

// TestCanceled: a request whose own context ends says nothing about Redis.
func TestCanceled(t *testing.T) {
	s, _ := newStore(t, Config{Mode: FailOpen})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Allow(ctx, "k", limits.Quota{Rate: 1, Burst: 1}, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with a canceled context: %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Down || st.Failures[FailureCanceled] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCollector(t *testing.T) {
	var reported []FailureReason
	s, err := New(&blackhole{}, Config{Mode: FailClosed, Timeout: time.Millisecond,
		OnFailure: func(r FailureReason, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("OnFailure(%v, %v): want the deadline's error", r, err)
			}
			reported = append(reported, r)
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Allow(context.Background(), "k", limits.Quota{Rate: 1, Burst: 1}, time.Now())
	_, _ = s.Allow(context.Background(), "k", limits.Quota{Rate: 1, Burst: 1}, time.Now())
	if len(reported) != 1 || reported[0] != FailureTimeout {
		t.Errorf("OnFailure reported %v, want one timeout (the second request skipped Redis)", reported)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(s.Collector("api")); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP windhover_redisstore_degraded_total Requests the Redis rate store decided by its mode without Redis.
# TYPE windhover_redisstore_degraded_total counter
windhover_redisstore_degraded_total{mode="fail_closed",policy="redisstore",policy_name="api"} 2
# HELP windhover_redisstore_failures_total Calls to Redis that gave no decision, by reason.
# TYPE windhover_redisstore_failures_total counter
windhover_redisstore_failures_total{policy="redisstore",policy_name="api",reason="canceled"} 0
windhover_redisstore_failures_total{policy="redisstore",policy_name="api",reason="error"} 0
windhover_redisstore_failures_total{policy="redisstore",policy_name="api",reason="timeout"} 1
# HELP windhover_redisstore_up 1 while the Redis rate store thinks Redis is up, else 0.
# TYPE windhover_redisstore_up gauge
windhover_redisstore_up{policy="redisstore",policy_name="api"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"windhover_redisstore_degraded_total", "windhover_redisstore_failures_total", "windhover_redisstore_up"); err != nil {
		t.Fatal(err)
	}
}

// blackhole is a Client whose Redis never answers: each call waits for its
// context.
type blackhole struct{ calls atomic.Int64 }

func (b *blackhole) EvalSha(ctx context.Context, _, _ string, _ []string) ([2]int64, error) {
	b.calls.Add(1)
	<-ctx.Done()
	return [2]int64{}, ctx.Err()
}

func (b *blackhole) Eval(ctx context.Context, _, _ string, _ []string) ([2]int64, error) {
	return b.EvalSha(ctx, "", "", nil)
}

// TestAllowAllocs guards the allocations of a request Redis decides: the
// key, the call's deadline, and rueidis's command and reply.
func TestAllowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s, _ := newStore(t, Config{})
	q := limits.Quota{Rate: 1e9, Burst: 1 << 30}
	ctx := context.Background()
	if _, err := s.Allow(ctx, "192.0.2.1", q, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// rueidis's own goroutines, which read and write for every caller,
	// allocate now and then in the measurement too: the least of a few
	// measurements is the request's.
	const budget = 10
	n := math.Inf(1)
	for range 5 {
		n = min(n, testing.AllocsPerRun(200, func() { _, _ = s.Allow(ctx, "192.0.2.1", q, time.Time{}) }))
	}
	if n > budget {
		t.Fatalf("Allow allocates %v times a request, over its budget of %d", n, budget)
	}
}

// BenchmarkAllow measures a request Redis decides, serially and from 64
// goroutines (the client comparison is in the benchmarks module).
func BenchmarkAllow(b *testing.B) {
	s, _ := newStore(b, Config{})
	q := limits.Quota{Rate: 1e9, Burst: 1 << 30}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Allow(ctx, "192.0.2.1", q, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Allow(ctx, "192.0.2.1", q, time.Time{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
