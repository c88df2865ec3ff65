package timeouts

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestOptionsStarTrickledBodyCut is issue 11's second hole, for timeouts:
// net/http answers "OPTIONS *" before the Handler and reads its body (up to
// 4 KiB) at the client's pace. After Apply the request reaches the handler,
// which answers it itself and reads the body under the body rate.
func TestOptionsStarTrickledBodyCut(t *testing.T) {
	pol, err := New(Config{MinRequestBodyDataRate: testRate})
	require.NoError(t, err)
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
	}), h1)
	c := testserver.Dial(t, s.Addr())
	start := time.Now()
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n")
	// 100 bytes every 100 ms, a twentieth of the rate: 4 s in all.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 40 {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(c, strings.Repeat("a", 100)); err != nil {
				return
			}
		}
	})
	defer wg.Wait()
	require.NoError(t, c.SetReadDeadline(start.Add(testRate.GracePeriod+2*time.Second)))
	_, err = io.ReadAll(c.R)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the connection closed (or was reset) within the grace period and a margin")
	assert.EqualValues(t, 1, pol.Stats().BodyRateViolations)
	c.Close()
}

func TestOptionsStarAnswered(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
		}
		_, _ = io.WriteString(w, "app")
	})
	for _, p := range []testserver.Proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			s := serve(t, pol, app, p)
			if p == h1 {
				c := testserver.Dial(t, s.Addr())
				c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n")
				res, body := c.Response(t)
				assert.Equal(t, 200, res.StatusCode)
				assert.Empty(t, body)
				assert.Zero(t, res.ContentLength)
				assert.False(t, res.Close)
				c.Send(t, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
				res, body = c.Response(t)
				assert.Equal(t, 200, res.StatusCode)
				assert.Equal(t, "app", body, "the connection serves on")
				return
			}
			req, err := http.NewRequest(http.MethodOptions, s.URL, nil)
			require.NoError(t, err)
			req.URL.Opaque = "*"
			code, body := s.Do(t, req)
			assert.Equal(t, 200, code)
			assert.Empty(t, body)
		})
	}
}
