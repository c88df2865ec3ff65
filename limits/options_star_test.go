package limits

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// noStar is an application that fails the test if an "OPTIONS *" request
// reaches it, and answers anything else "app".
func noStar(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
		}
		fmt.Fprint(w, "app")
	})
}

// optionsStar sends "OPTIONS *" over s's protocol and returns the status and
// body of the answer, and over HTTP/1.1 whether the connection stayed open.
func optionsStar(t *testing.T, s *testserver.Server, c *testserver.Conn) (int, string) {
	t.Helper()
	if c != nil {
		c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
		res, body := c.Response(t)
		assert.False(t, res.Close, "net/http keeps the connection after OPTIONS *, and so do the policies")
		return res.StatusCode, body
	}
	req, err := http.NewRequest(http.MethodOptions, s.URL, nil)
	require.NoError(t, err)
	req.URL.Opaque = "*"
	return s.Do(t, req)
}

// TestOptionsStarRateLimited sends "OPTIONS *" 50 times from one client to
// a rate limit with a burst of 5, on a server after Apply: 5 are answered
// as net/http would, the rest get 429, and the application sees none.
// Before, net/http answered all 50 itself.
func TestOptionsStarRateLimited(t *testing.T) {
	for _, p := range []proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			rl := MaxRequestRate(0.001, 5)
			s := startServer(t, rl.Handler(lim.Handler(noStar(t))), p, quietServerOf(t, lim))
			var c *testserver.Conn
			if p == h1 {
				c = dial(t, s.Addr())
			}
			counts := map[int]int{}
			for range 50 {
				code, body := optionsStar(t, s, c)
				counts[code]++
				if code == 200 {
					assert.Empty(t, body)
				}
			}
			assert.Equal(t, map[int]int{200: 5, 429: 45}, counts)
			assert.EqualValues(t, 45, rl.Stats().Rejected[ReasonRateLimited])
		})
	}
}

// TestOptionsStarTakesAConcurrencySlot: with the only slot taken, "OPTIONS *"
// gets 503 and is counted; with it free, 200 and an empty body from the
// limiter itself. Before, net/http answered 200 either way.
func TestOptionsStarTakesAConcurrencySlot(t *testing.T) {
	for _, p := range []proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			cl := MaxConcurrentRequests(1)
			g := newGate()
			mux := http.NewServeMux()
			mux.Handle("/slow", g)
			mux.Handle("/", noStar(t))
			s := startServer(t, lim.Handler(cl.Handler(mux)), p, quietServerOf(t, lim))
			var c *testserver.Conn
			if p == h1 {
				c = dial(t, s.Addr())
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, err := s.Client.Get(s.URL + "/slow?id=1")
				if err == nil {
					res.Body.Close()
				}
			}()
			g.next(t)
			code, _ := optionsStar(t, s, c)
			assert.Equal(t, 503, code, "the only slot is taken")
			assert.EqualValues(t, 1, cl.Stats().Rejected[ReasonConcurrencyLimit])
			g.proceed <- struct{}{}
			<-done
			code, body := optionsStar(t, s, c)
			assert.Equal(t, 200, code)
			assert.Empty(t, body)
			assert.Zero(t, cl.Stats().ActiveRequests)
		})
	}
}

// TestOptionsStarMeetsTheRequestLimits: "OPTIONS *" with too many header
// fields gets 431 like any request; within the limits, the Limiter answers
// it as net/http would. Before, net/http answered 200.
func TestOptionsStarMeetsTheRequestLimits(t *testing.T) {
	lim, err := New(Config{MaxRequestHeaderCount: 3})
	require.NoError(t, err)
	s := serve(t, lim, noStar(t), h1)
	c := dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 431, res.StatusCode)
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonTooManyHeaders])

	c = dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Empty(t, body)
	assert.EqualValues(t, 0, res.ContentLength)

	// A route's body limit behind a router is not reached: the Limiter in
	// front of the router answers.
	mux := http.NewServeMux()
	mux.Handle("/", MaxRequestBodySize(10).Handler(noStar(t)))
	s = serve(t, lim, mux, h1)
	c = dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "not the ServeMux's 400")
}

// logs captures slog's default logger for the test.
func logs(t *testing.T) *syncBuffer {
	b := &syncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(b, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOptionsStarGuard: each limits handler on a server that answers
// "OPTIONS *" itself warns once; after Apply, none does.
func TestOptionsStarGuard(t *testing.T) {
	b := logs(t)
	lim, err := New(Config{})
	require.NoError(t, err)
	handlers := []http.Handler{
		lim.Handler(hello),
		MaxConcurrentRequests(10).Handler(hello),
		MaxRequestRate(100, 100).Handler(hello),
	}
	for _, h := range handlers {
		s := startServer(t, h, h1)
		for range 3 {
			code, _ := s.Get(t, "/", nil)
			require.Equal(t, 200, code)
		}
	}
	assert.Equal(t, len(handlers), strings.Count(b.String(), "windhover/limits: the server answers \\\"OPTIONS *\\\""), b.String())

	b = logs(t)
	for _, h := range []http.Handler{lim.Handler(hello), MaxConcurrentRequests(10).Handler(hello), MaxRequestRate(100, 100).Handler(hello)} {
		s := startServer(t, h, h1, quietServerOf(t, lim))
		code, _ := s.Get(t, "/", nil)
		require.Equal(t, 200, code)
	}
	assert.Empty(t, b.String())
}
