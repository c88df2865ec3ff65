package windhover

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/limits"
)

// TestHardenSharesClock checks that the chain Harden builds shares the
// clock's readings among the three policies that need the time: metrics,
// the rate limiter (when there is one) and timeouts. A policy that stopped
// offering ShareReadings would read the clock itself again, correct but
// slower, and fail here.
func TestHardenSharesClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"defaults", Config{}, 2},
		{"with a rate limit", Config{RateLimit: &limits.RateConfig{Rate: 10, Burst: 10}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Harden(&http.Server{}, tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.sharers)
		})
	}
}
