package windhover_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
)

// TestHardenRequestDuration checks the request duration the composition
// records: it covers the application's whole run and no more than the client
// waited, over HTTP/1.1 and h2c.
func TestHardenRequestDuration(t *testing.T) {
	const nap = 50 * time.Millisecond
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			harden := func(ts *httptest.Server) {
				s, err := windhover.Harden(ts.Config, windhover.Config{
					RateLimit: &limits.RateConfig{Rate: 1e6, Burst: 1e6},
				})
				require.NoError(t, err)
				require.NoError(t, s.Register(reg))
				ts.Listener = s.Listener(ts.Listener)
			}
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(nap)
				_, _ = w.Write([]byte("ok"))
			})
			ts := testserver.Start(t, app, p, harden)
			start := time.Now()
			code, body := ts.Get(t, "/", nil)
			waited := time.Since(start)
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, "ok", body)

			d := oneDuration(t, reg)
			assert.GreaterOrEqual(t, d, nap, "the duration covers the application's run")
			assert.LessOrEqual(t, d, waited+time.Millisecond, "the duration is no longer than the client waited (%v)", waited)
		})
	}
}

// TestHardenDurationCoversLateRefusal checks that a request's duration
// covers a refusal the limits handler makes after the application returned
// (a declared body over the limit that nobody read, counted and reported to
// OnReject), though timeouts, inside it, read the clock before.
func TestHardenDurationCoversLateRefusal(t *testing.T) {
	const slow = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	harden := func(ts *httptest.Server) {
		s, err := windhover.Harden(ts.Config, windhover.Config{
			Limits: limits.Config{MaxRequestBodySize: 10},
			OnReject: func(r *http.Request, err error) {
				if r != nil {
					time.Sleep(slow)
				}
			},
		})
		require.NoError(t, err)
		require.NoError(t, s.Register(reg))
		ts.Listener = s.Listener(ts.Listener)
	}
	ts := testserver.Start(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), testserver.H1, harden)
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(strings.Repeat("x", 8<<10)))
	require.NoError(t, err)
	code, _ := ts.Do(t, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.GreaterOrEqual(t, oneDuration(t, reg), slow, "the duration leaves out the refusal's callback")
}

// arrivalStore is a limits.Store that records the time it was asked at.
type arrivalStore struct {
	mu  sync.Mutex
	now []time.Time
}

func (s *arrivalStore) Allow(_ context.Context, _ string, q limits.Quota, now time.Time) (limits.Decision, error) {
	s.mu.Lock()
	s.now = append(s.now, now)
	s.mu.Unlock()
	return limits.Decision{Allowed: true, Remaining: q.Burst}, nil
}

// TestHardenSharedReadingsUsed checks, through Harden's chain over a real
// socket, that metrics reads the clock on arrival (after the client sent the
// request, before the application ran) and carries the reading down to the
// application's ResponseWriter; that the rate limiter decides at that very
// reading; and, over HTTP/1.1 (where timeouts reads the clock once the
// application returns), that the recorded duration is exactly the time
// between the two shared readings.
func TestHardenSharedReadingsUsed(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			store := &arrivalStore{}
			reg := prometheus.NewRegistry()
			harden := func(ts *httptest.Server) {
				s, err := windhover.Harden(ts.Config, windhover.Config{
					RateLimit: &limits.RateConfig{Rate: 1e6, Burst: 1e6, Store: store},
					// A request with a body then has metrics state of
					// its own, not pooled: its readings stay to be read.
					Metrics: metrics.Config{RequestSizes: true},
				})
				require.NoError(t, err)
				require.NoError(t, s.Register(reg))
				ts.Listener = s.Listener(ts.Listener)
			}
			var readings *clock.Readings
			var ran int64
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = clock.Nanos()
				readings = rw.ReadingsOf(w) // as timeouts finds them
				_, _ = io.Copy(io.Discard, r.Body)
			})
			ts := testserver.Start(t, app, p, harden)
			req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader("body"))
			require.NoError(t, err)
			sent := clock.Nanos()
			code, _ := ts.Do(t, req)
			require.Equal(t, http.StatusOK, code)
			d := oneDuration(t, reg)
			require.NotNil(t, readings, "no shared reading reached the application")
			assert.GreaterOrEqual(t, readings.Arrived, sent, "read before the client sent the request")
			assert.LessOrEqual(t, readings.Arrived, ran, "read after the application ran")
			store.mu.Lock()
			defer store.mu.Unlock()
			require.Len(t, store.now, 1)
			assert.Equal(t, clock.At(readings.Arrived), store.now[0], "the rate limiter did not decide at the shared reading")
			if p == testserver.H1 {
				require.NotZero(t, readings.Returned)
				// Within the nanosecond the histogram's float64 seconds can lose.
				assert.InDelta(t, float64(readings.Returned-readings.Arrived), float64(d), 1, "the duration is not the shared readings'")
			}
		})
	}
}

// oneDuration waits for the composition to record one request's duration,
// which it does as the handler returns (the client may see the response
// before), and returns it.
func oneDuration(t *testing.T, reg *prometheus.Registry) time.Duration {
	t.Helper()
	var sum float64
	require.Eventually(t, func() bool {
		var count uint64
		sum, count = requestDurations(t, reg)
		return count == 1
	}, 2*time.Second, 5*time.Millisecond)
	return time.Duration(sum * float64(time.Second))
}

// requestDurations returns the sum and count of the request duration
// histogram over all its series.
func requestDurations(t *testing.T, reg *prometheus.Registry) (float64, uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	var count uint64
	for _, mf := range mfs {
		if mf.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
			count += m.GetHistogram().GetSampleCount()
		}
	}
	return sum, count
}
