package limits

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
)

// TestRateHandlerSharedArrival shows where a rate handler takes the time it
// decides at: a fresh reading of the clock, unless a composition turned
// sharing on (clock.Share), and then the arrival time that the handler
// directly outside it read, never one a Writer further out carries.
//
// The bucket holds one token and refills one an hour, so a request allowed
// after the first must have been decided at least an hour later.
func TestRateHandlerSharedArrival(t *testing.T) {
	lim, err := NewRateLimiter(RateConfig{Rate: 1.0 / 3600, Burst: 1})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	plain, shared := lim.Handler(ok), lim.Handler(ok)
	require.True(t, clock.Share(shared))

	later := &clock.Readings{Arrived: clock.Nanos() + int64(2*time.Hour)}
	serve := func(h http.Handler, readings *clock.Readings, adjacent bool) int {
		rec := httptest.NewRecorder()
		var outer, inner rw.Writer
		outer.Reset(rec, nil)
		w := outer.ResponseWriter()
		if readings != nil {
			outer.SetReadings(readings)
		}
		if !adjacent { // another Writer between
			inner.Reset(w, nil)
			w = inner.ResponseWriter()
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		h.ServeHTTP(w, r)
		return rec.Code
	}
	assert.Equal(t, http.StatusOK, serve(plain, nil, true), "the burst's token")
	assert.Equal(t, http.StatusTooManyRequests, serve(plain, later, true), "a handler that does not share reads the clock")
	assert.Equal(t, http.StatusTooManyRequests, serve(shared, nil, true), "no readings: the clock")
	assert.Equal(t, http.StatusTooManyRequests, serve(shared, later, false), "readings a Writer further out carries are not taken")
	assert.Equal(t, http.StatusOK, serve(shared, later, true), "decided two hours on: a token again")
}
