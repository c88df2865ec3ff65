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

// TestRateHandlerNoArrival shows that readings without an arrival (zero)
// are taken for none: a sharing rate handler then reads the clock itself
// rather than deciding at the clock's epoch, where the bucket would not
// have refilled. The bucket holds one token and refills it in 200 ms.
func TestRateHandlerNoArrival(t *testing.T) {
	lim, err := NewRateLimiter(RateConfig{Rate: 5, Burst: 1})
	require.NoError(t, err)
	h := lim.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.True(t, clock.Share(h))
	serve := func(readings *clock.Readings) int {
		rec := httptest.NewRecorder()
		var w rw.Writer
		w.Reset(rec, nil)
		if readings != nil {
			w.SetReadings(readings)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		h.ServeHTTP(w.ResponseWriter(), r)
		return rec.Code
	}
	for _, tc := range []struct {
		name     string
		readings *clock.Readings
	}{
		{"no readings", nil},
		{"readings without an arrival", &clock.Readings{Cell: 3}},
	} {
		time.Sleep(600 * time.Millisecond) // full again
		require.Equal(t, http.StatusOK, serve(&clock.Readings{Arrived: clock.Nanos()}), "%s: the token", tc.name)
		require.Equal(t, http.StatusTooManyRequests, serve(&clock.Readings{Arrived: clock.Nanos()}), "%s: none left", tc.name)
		time.Sleep(600 * time.Millisecond)
		assert.Equal(t, http.StatusOK, serve(tc.readings), "%s: decided at a fresh reading, after the refill", tc.name)
	}
}

// TestRateHandlerStoreTime shows that the rate handler hands its
// MemoryStore the time as Unix nanoseconds, the unit the store's Allow
// takes: a token taken through Allow two hours ago, at a rate of one an
// hour, has come back by the time the handler decides.
func TestRateHandlerStoreTime(t *testing.T) {
	store := NewMemoryStore(0)
	q := Quota{Rate: 1.0 / 3600, Burst: 1}
	lim, err := NewRateLimiter(RateConfig{Rate: q.Rate, Burst: q.Burst, Store: store, Key: func(*http.Request) string { return "k" }})
	require.NoError(t, err)
	d, err := store.Allow(t.Context(), "k", q, time.Now().Add(-2*time.Hour))
	require.NoError(t, err)
	require.True(t, d.Allowed)
	h := lim.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	code, _, _ := serveAt(h, request("192.0.2.1:1234"))
	assert.Equal(t, http.StatusOK, code, "the token taken two hours ago is back")
	code, _, _ = serveAt(h, request("192.0.2.1:1234"))
	assert.Equal(t, http.StatusTooManyRequests, code, "and the handler took it")
}
