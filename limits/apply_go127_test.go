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
	lim.Apply(&srv)
	assert.Equal(t, 600+headerValueCountSlack, srv.MaxHeaderValueCount)

	mine := http.Server{MaxHeaderValueCount: 50}
	lim.Apply(&mine)
	assert.Equal(t, 50, mine.MaxHeaderValueCount, "a count the user set stands")
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
