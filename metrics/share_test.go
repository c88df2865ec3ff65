package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
)

// TestHandlerSharedReadings shows what the Handler shares once a composition
// turned sharing on (clock.Share): its reading on arrival, to the Writers
// inside it; and where its duration ends: at the time the innermost policy
// read as the application returned, when it read one, and otherwise at its
// own reading. Without sharing, nothing inside sees its readings.
func TestHandlerSharedReadings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		share    bool
		returned time.Duration // after arrival, set by the inner handler; 0 for none
		min, max time.Duration
		readings bool // the inner handler finds readings
	}{
		{name: "not shared", share: false, max: time.Second},
		{name: "shared, no return reading", share: true, max: time.Second, readings: true},
		{name: "shared, returned 5s on", share: true, returned: 5 * time.Second, min: 5 * time.Second, max: 5 * time.Second, readings: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			var found bool
			var arrived, foundArrived int64
			var inCell int64 // the active requests counted in the shared cell
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if own := rw.Own(w); own != nil {
					arrived = own.Arrived
				}
				p := rw.ReadingsOf(w) // as the innermost policy finds them
				if found = p != nil; found {
					foundArrived = p.Arrived
					inCell = m.activeRequests(methodIndex(r.Method), schemeIndex(r)).n.Cell(p.Cell)
					if tc.returned > 0 {
						p.Returned = p.Arrived + int64(tc.returned)
					}
				}
			}))
			if tc.share {
				require.True(t, clock.Share(h))
			}
			before := clock.Nanos()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if !tc.readings {
				assert.False(t, found)
				assert.Zero(t, arrived)
				return
			}
			require.True(t, found)
			assert.GreaterOrEqual(t, arrived, before, "the arrival is read as the request comes")
			assert.Equal(t, arrived, foundArrived)
			assert.EqualValues(t, 1, inCell, "the shared cell is not the one metrics counted the request in")
			d := durationSum(t, reg)
			assert.GreaterOrEqual(t, d, tc.min.Seconds())
			assert.LessOrEqual(t, d, tc.max.Seconds())
		})
	}
}

// durationSum returns the sum of the one request duration series.
func durationSum(t *testing.T, g prometheus.Gatherer) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "http_server_request_duration_seconds" {
			require.Len(t, mf.Metric, 1)
			return mf.Metric[0].Histogram.GetSampleSum()
		}
	}
	t.Fatal("no request duration")
	return 0
}
