package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// A client that announces a body and never sends it gets its answer at once
// and its connection closed, on routes that read no body (the application's
// GET /, a probe, a 404), so that a server full of such clients still
// answers the honest one (issue 11, hole 1). net/http alone waits for the
// body, with no deadline, before it writes the response.
func TestServerAnnouncedBodyNeverSent(t *testing.T) {
	const conns = 12
	url, _, stop := start(t, "-max-conns", "12")
	addr := strings.TrimPrefix(url, "http://")
	paths := []string{"/", "/healthz", "/nope"}
	want := []int{200, 200, 404}
	var cs []*testserver.Conn
	for i := range conns {
		c := testserver.Dial(t, addr)
		c.Send(t, "GET "+paths[i%3]+" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n")
		cs = append(cs, c)
	}
	for i, c := range cs {
		// Seconds to spare: the answer comes within the 50 ms the server
		// gives the rest of a small body.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
		res, _ := c.Response(t)
		assert.Equal(t, want[i%3], res.StatusCode, paths[i%3])
		assert.True(t, res.Close, "Connection: close on %s", paths[i%3])
		assert.True(t, c.ClosedByPeer(t), "the connection of %s closed", paths[i%3])
	}
	// Every slot is free again, once the server has counted the closes it
	// has made (a moment after the client sees them).
	c := &http.Client{}
	testserver.Eventually(t, func() bool {
		res, err := c.Get(url + "/")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode == 200 && string(body) == "hello\n"
	}, "an honest GET is not answered")
	require.NoError(t, stop())
}

// "OPTIONS *" meets the policies as any request does (issue 11, hole 2):
// the host filter refuses another host, the rate limiter counts it, and an
// allowed one gets net/http's empty 200.
func TestServerOptionsStar(t *testing.T) {
	url, logs, stop := start(t, "-rate", "1", "-burst", "2")
	addr := strings.TrimPrefix(url, "http://")
	c := testserver.Dial(t, addr)
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "invalid hostname\n", body)
	var codes []int
	for range 4 {
		c := testserver.Dial(t, addr)
		c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n")
		res, body := c.Response(t)
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 200 {
			assert.Empty(t, body)
			assert.Equal(t, int64(0), res.ContentLength)
		}
	}
	assert.Equal(t, []int{200, 200, 429, 429}, codes)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "host_not_allowed")
	assert.Contains(t, logs.String(), "rate_limited")
}
