//go:build go1.27

package limits

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApplyHeaderValueCount(t *testing.T) {
	lim, err := New(Config{MaxRequestHeaderCount: 600})
	require.NoError(t, err)
	var srv http.Server
	require.NoError(t, lim.Apply(&srv))
	assert.Equal(t, 600+headerValueCountSlack, srv.MaxHeaderValueCount)

	mine := http.Server{MaxHeaderValueCount: 50}
	require.NoError(t, lim.Apply(&mine))
	assert.Equal(t, 50, mine.MaxHeaderValueCount, "a lower count the user set stands")

	for have, want := range map[int]string{
		1000: "windhover/limits: http.Server.MaxHeaderValueCount = 1000 is over the 608 that Config.MaxRequestHeaderCount = 600 calls for; lower it, or raise that limit",
		-1:   "windhover/limits: http.Server.MaxHeaderValueCount = -1 (net/http uses 500) is over the 108 that Config.MaxRequestHeaderCount = 100 calls for; lower it, or raise that limit",
	} {
		lim := lim
		if have < 0 {
			lim, err = New(Config{})
			require.NoError(t, err)
		}
		lax := http.Server{MaxHeaderValueCount: have}
		err := lim.Apply(&lax)
		require.ErrorIs(t, err, ErrServerConflict)
		assert.EqualError(t, err, want)
		assert.Equal(t, have, lax.MaxHeaderValueCount)
	}
}

func TestHeaderCountBoundaryOverGoLimit(t *testing.T) {
	// Above net/http's default of 500 values, the exact limit still holds.
	lim, err := New(Config{MaxRequestHeaderCount: 600, MaxRequestHeadersTotalSize: 1 << 20})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	fields := func(n int) http.Header {
		h := headerOfSize(n-2, 20*(n-2))
		h["User-Agent"] = []string{testUA}
		return h
	}
	code, _ := s.Get(t, "/", fields(600))
	assert.Equal(t, 200, code)
	code, _ = s.Get(t, "/", fields(601))
	assert.Equal(t, 431, code)
}
