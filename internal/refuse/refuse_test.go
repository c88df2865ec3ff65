package refuse

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/windhover/windhover/internal/testserver"
)

func refuser(w http.ResponseWriter, r *http.Request) {
	SkipBody(w, r)
	http.Error(w, "no", http.StatusForbidden)
}

// TestSkipBody sends a refused request whose body never comes, declared and
// chunked: the answer arrives and the server closes the connection at once,
// where net/http alone would wait for up to 256 KB of body.
func TestSkipBody(t *testing.T) {
	testserver.CheckNoLeaks(t)
	s := testserver.Start(t, http.HandlerFunc(refuser), testserver.H1)
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	} {
		c := testserver.Dial(t, s.Addr())
		c.Send(t, req)
		start := time.Now()
		res, body := c.Response(t)
		assert.Equal(t, 403, res.StatusCode)
		assert.Equal(t, "no\n", body)
		assert.True(t, res.Close)
		assert.True(t, c.ClosedByPeer(t))
		assert.Less(t, time.Since(start), 3*time.Second)
	}

	// Without a body the connection serves the next request.
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := c.Response(t)
	assert.False(t, res.Close)
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 403, res.StatusCode)
}

// TestSkipBodyHTTP2 checks that over HTTP/2 the answer arrives and other
// streams are unaffected.
func TestSkipBodyHTTP2(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H2, testserver.H2C} {
		s := testserver.Start(t, http.HandlerFunc(refuser), p)
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest("POST", s.URL+"/", pr)
		code, body := s.Do(t, req)
		assert.Equal(t, 403, code, p)
		assert.Equal(t, "no\n", body, p)
		code, _ = s.Get(t, "/", nil)
		assert.Equal(t, 403, code, p)
	}
}
