package windhover_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// TestHardenWire: through the Server's Listener one wrapper measures each
// plaintext head for both policies, as Kestrel does: sizes as sent and
// malformed heads refused at once (limits), the keep-alive timeout until the
// first byte and the request-headers timeout after it (timeouts); each
// refusal reaches Config.OnReject, described by RefusalOf.
func TestHardenWire(t *testing.T) {
	const keepAlive, headers = 600 * time.Millisecond, 300 * time.Millisecond
	var got refusals
	ts, _ := hardened(t, windhover.Config{
		Limits:   limits.Config{MaxRequestLineSize: 32},
		Timeouts: timeouts.Config{KeepAliveTimeout: keepAlive, RequestHeadersTimeout: headers},
		OnReject: got.add,
	}, testserver.H1)

	// A connection idle longer than the headers timeout, within the
	// keep-alive timeout, is served: the headers timer starts at the first
	// byte.
	c := testserver.Dial(t, ts.Addr())
	time.Sleep(headers + 100*time.Millisecond)
	c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, body)
	// Then the keep-alive timeout runs from the response: the connection
	// closes without a word.
	began := time.Now()
	rest, err := io.ReadAll(c.R)
	assert.Empty(t, rest)
	assert.NoError(t, err)
	assert.Greater(t, time.Since(began), keepAlive-100*time.Millisecond)

	// A head that stops mid-line gets 408 and the connection closes.
	c = testserver.Dial(t, ts.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHo")
	res, _ = c.Response(t)
	assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))

	// A connection that sends nothing is closed without an answer.
	c = testserver.Dial(t, ts.Addr())
	b, err := io.ReadAll(c.R)
	assert.Empty(t, b)
	assert.NoError(t, err)

	// A request line one byte over its limit, CRLF counted, gets 414 at once.
	c = testserver.Dial(t, ts.Addr())
	line := "GET /" + strings.Repeat("a", 33-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\n"
	require.Len(t, line, 33)
	c.Send(t, line)
	res, _ = c.Response(t)
	assert.Equal(t, http.StatusRequestURITooLong, res.StatusCode)

	// Host a=b: 400 and close, where net/http would serve it.
	c = testserver.Dial(t, ts.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: a=b\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.True(t, c.ClosedByPeer(t))

	want := []string{
		"timeouts/keep_alive_timeout/0", "timeouts/request_headers_timeout/408", "timeouts/keep_alive_timeout/0",
		"limits/request_line_too_long/414", "limits/invalid_host/400",
	}
	testserver.Eventually(t, func() bool { return len(got.list()) == len(want) }, "refusals %v", got.list())
	assert.Equal(t, want, got.list())
}
