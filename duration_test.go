package windhover_test

import (
	"net/http"
	"net/http/httptest"
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

			// The duration is recorded as the handler returns, which
			// the client may see the response before.
			var sum float64
			var count uint64
			require.Eventually(t, func() bool {
				sum, count = requestDurations(t, reg)
				return count == 1
			}, 2*time.Second, 5*time.Millisecond)
			d := time.Duration(sum * float64(time.Second))
			assert.GreaterOrEqual(t, d, nap, "the duration covers the application's run")
			assert.LessOrEqual(t, d, waited+time.Millisecond, "the duration is no longer than the client waited (%v)", waited)
		})
	}
}

// TestHardenSharedArrival checks, over a real socket, that the chain Harden
// builds carries one reading of the clock on arrival down to the
// application's ResponseWriter, the reading the rate limiter decides with,
// taken after the client sent the request and before the application ran.
func TestHardenSharedArrival(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			harden := func(ts *httptest.Server) {
				s, err := windhover.Harden(ts.Config, windhover.Config{
					RateLimit: &limits.RateConfig{Rate: 1e6, Burst: 1e6},
				})
				require.NoError(t, err)
				ts.Listener = s.Listener(ts.Listener)
			}
			var arrived, ran time.Time
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = clock.Now()
				var inner rw.Writer // as a policy's own Writer would see them
				inner.Reset(w, nil)
				if readings := inner.Readings(); readings != nil {
					arrived = readings.Arrived
				}
			})
			ts := testserver.Start(t, app, p, harden)
			sent := clock.Now()
			code, _ := ts.Get(t, "/", nil)
			require.Equal(t, http.StatusOK, code)
			require.False(t, arrived.IsZero(), "no shared reading reached the application")
			assert.False(t, arrived.Before(sent), "read before the client sent the request")
			assert.False(t, arrived.After(ran), "read after the application ran")
		})
	}
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
