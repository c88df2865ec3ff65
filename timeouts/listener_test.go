package timeouts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/netconn"
	"github.com/windhover/windhover/internal/testserver"
)

// The timers of the Listener's tests, and how long a client idles before
// its first request: past the headers timeout from the accept, well within
// the keep-alive timeout. Long enough for a loaded machine (the race
// detector, two shared cores) to keep up with, short enough to keep the
// tests quick.
const (
	keepAlive = time.Second
	headers   = 300 * time.Millisecond
	idle      = 2 * headers
)

// timers is a Config with the tests' timers and no data rates, so that only
// the timers act.
func timers(v *reports) Config {
	return Config{KeepAliveTimeout: keepAlive, RequestHeadersTimeout: headers,
		MinRequestBodyDataRate: Off, MinResponseDataRate: Off, OnReject: v.record}
}

// reports records what OnReject reports, with the request.
type reports struct {
	mu   sync.Mutex
	reqs []*http.Request
	errs []error
}

func (v *reports) record(r *http.Request, err error) {
	v.mu.Lock()
	v.reqs = append(v.reqs, r)
	v.errs = append(v.errs, err)
	v.mu.Unlock()
}

func (v *reports) all() []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]error(nil), v.errs...)
}

// one waits for exactly one report and returns it, checking that it came
// without a request.
func (v *reports) one(t *testing.T) *TimeoutError {
	t.Helper()
	testserver.Eventually(t, func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return len(v.errs) > 0
	}, "nothing reported")
	time.Sleep(20 * time.Millisecond) // and nothing more
	v.mu.Lock()
	defer v.mu.Unlock()
	require.Len(t, v.errs, 1, "%v", v.errs)
	assert.Nil(t, v.reqs[0], "no request yet")
	var te *TimeoutError
	require.ErrorAs(t, v.errs[0], &te)
	assert.ErrorIs(t, te, os.ErrDeadlineExceeded)
	assert.True(t, te.Timeout())
	return te
}

// serveTimed starts h behind pol's Handler, with Apply and, if listen, on
// pol.Listener, speaking p.
func serveTimed(t *testing.T, pol *Policy, h http.Handler, p testserver.Proto, listen bool) *testserver.Server {
	t.Helper()
	return testserver.Start(t, pol.Handler(h), p, func(ts *httptest.Server) {
		require.NoError(t, pol.Apply(ts.Config))
		if listen {
			ts.Listener = pol.Listener(ts.Listener)
		}
	})
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello")
})

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// expectHello reads a 200 "hello" that keeps the connection.
func expectHello(t *testing.T, c *testserver.Conn) {
	t.Helper()
	res, body := c.Response(t)
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "hello", body)
	assert.False(t, res.Close)
}

// closedSilently checks that the server closes c without writing a byte,
// between lo and hi after began.
func closedSilently(t *testing.T, c *testserver.Conn, began time.Time, lo, hi time.Duration) {
	t.Helper()
	got, err := io.ReadAll(c.R)
	took := time.Since(began)
	require.NoError(t, err, "closed, not reset or timed out")
	assert.Empty(t, string(got), "closed without an answer")
	assert.GreaterOrEqual(t, took, lo)
	assert.LessOrEqual(t, took, hi)
}

// noAnswer checks that the server closed c without writing a byte, before
// or after what the client sent (a reset, then, may come instead of EOF).
func noAnswer(t *testing.T, c *testserver.Conn) {
	t.Helper()
	got, err := io.ReadAll(c.R)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("still open")
	}
	assert.Empty(t, string(got), "closed without an answer")
}

// expect408 reads everything the server sends until it closes the
// connection: a 408 with Connection: close, nothing after it.
func expect408(t *testing.T, c *testserver.Conn) {
	t.Helper()
	raw, err := io.ReadAll(c.R)
	require.NoError(t, err, "the server closes the connection after its answer")
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(t, err, "%q", raw)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	assert.Equal(t, "Request Timeout\n", string(body))
	assert.Contains(t, string(raw), "\r\nConnection: close\r\n")
	assert.True(t, strings.HasSuffix(string(raw), "\r\n\r\nRequest Timeout\n"), "nothing after the answer: %q", raw)
}

// TestListenerTimesLikeKestrel: with Apply's IdleTimeout and ReadHeaderTimeout
// in place, the Listener times plaintext HTTP/1 heads as Kestrel does.
func TestListenerTimesLikeKestrel(t *testing.T) {
	start := func(t *testing.T) (*Policy, *reports, *testserver.Server) {
		var v reports
		pol, err := New(timers(&v))
		require.NoError(t, err)
		s := serveTimed(t, pol, hello, h1, true)
		require.Equal(t, headers, s.Config.ReadHeaderTimeout, "Apply's fallback is in place")
		require.Equal(t, keepAlive, s.Config.IdleTimeout)
		return pol, &v, s
	}

	t.Run("idle longer than the headers timeout, then served", func(t *testing.T) {
		pol, v, s := start(t)
		c := testserver.Dial(t, s.Addr())
		time.Sleep(idle) // past ReadHeaderTimeout from the accept
		c.Send(t, get("/"))
		expectHello(t, c)
		assert.Equal(t, Stats{RequestsPoliced: 1}, pol.Stats())
		assert.Empty(t, v.all())
	})

	t.Run("nothing sent: closed silently after the keep-alive timeout", func(t *testing.T) {
		pol, v, s := start(t)
		began := time.Now() // the server's timer starts later, at the accept
		c := testserver.Dial(t, s.Addr())
		closedSilently(t, c, began, keepAlive-50*time.Millisecond, keepAlive+time.Second)
		te := v.one(t)
		assert.ErrorIs(t, te, ErrKeepAliveTimeout)
		assert.NotErrorIs(t, te, ErrRequestHeadersTimeout)
		assert.Equal(t, keepAlive, te.Limit)
		assert.Zero(t, te.Status())
		assert.Equal(t, c.LocalAddr().String(), te.Addr.String())
		assert.Equal(t, Stats{KeepAliveTimeouts: 1}, pol.Stats())
	})

	t.Run("head stopped mid-line: 408 after the headers timeout from its first byte", func(t *testing.T) {
		pol, v, s := start(t)
		c := testserver.Dial(t, s.Addr())
		time.Sleep(headers / 2) // the headers timer starts at the first byte, not the accept
		first := time.Now()     // the server's timer starts later, at the byte's arrival
		c.Send(t, "GET / HT")
		expect408(t, c)
		took := time.Since(first)
		assert.GreaterOrEqual(t, took, headers-50*time.Millisecond)
		assert.Less(t, took, headers+time.Second)
		te := v.one(t)
		assert.ErrorIs(t, te, ErrRequestHeadersTimeout)
		assert.Equal(t, headers, te.Limit)
		assert.Equal(t, 408, te.Status())
		assert.Equal(t, Stats{RequestHeadersTimeouts: 1}, pol.Stats())
	})

	t.Run("between requests: the keep-alive timer runs from the response", func(t *testing.T) {
		pol, v, s := start(t)
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		time.Sleep(idle)
		began := time.Now() // the server's timer starts later, once its response is out
		c.Send(t, get("/"))
		expectHello(t, c)
		closedSilently(t, c, began, keepAlive-50*time.Millisecond, keepAlive+time.Second)
		assert.ErrorIs(t, v.one(t), ErrKeepAliveTimeout)
		assert.Equal(t, Stats{RequestsPoliced: 2, KeepAliveTimeouts: 1}, pol.Stats())
	})

	t.Run("second head stopped: 408", func(t *testing.T) {
		pol, v, s := start(t)
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		first := time.Now()
		c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n")
		expect408(t, c)
		assert.GreaterOrEqual(t, time.Since(first), headers-50*time.Millisecond)
		assert.ErrorIs(t, v.one(t), ErrRequestHeadersTimeout)
		assert.Equal(t, Stats{RequestsPoliced: 1, RequestHeadersTimeouts: 1}, pol.Stats())
	})
}

// TestListenerKeepsServerBounds: a server's own IdleTimeout,
// ReadHeaderTimeout or ReadTimeout shorter than the timers bounds the
// Listener's waits too, so that no client waits longer than net/http alone
// would let it; the Listener acts at the bound as at its own timer, and
// reports the bound.
func TestListenerKeepsServerBounds(t *testing.T) {
	const (
		long  = 10 * time.Second // the timers: far beyond every wait below
		bound = 300 * time.Millisecond
		late  = 2 * time.Second // generous: the bound is 300 ms, the timer 10 s
	)
	start := func(t *testing.T, cfg func(*Config), srv func(*http.Server)) (*Policy, *reports, *testserver.Server) {
		var v reports
		c := Config{KeepAliveTimeout: long, RequestHeadersTimeout: long,
			MinRequestBodyDataRate: Off, MinResponseDataRate: Off, OnReject: v.record}
		if cfg != nil {
			cfg(&c)
		}
		pol, err := New(c)
		require.NoError(t, err)
		s := testserver.Start(t, pol.Handler(hello), h1, func(ts *httptest.Server) {
			srv(ts.Config)
			require.NoError(t, pol.Apply(ts.Config))
			ts.Listener = pol.Listener(ts.Listener)
		})
		return pol, &v, s
	}
	withIdle := func(s *http.Server) { s.IdleTimeout = bound }
	withHeader := func(s *http.Server) { s.ReadHeaderTimeout = bound }

	t.Run("IdleTimeout: between requests", func(t *testing.T) {
		pol, v, s := start(t, nil, withIdle)
		assert.Equal(t, bound, s.Config.IdleTimeout, "kept")
		assert.Equal(t, long, s.Config.ReadHeaderTimeout, "set by Apply")
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		closedSilently(t, c, time.Now(), bound-50*time.Millisecond, bound+late)
		te := v.one(t)
		assert.ErrorIs(t, te, ErrKeepAliveTimeout)
		assert.Equal(t, bound, te.Limit, "the bound that ran out")
		assert.Equal(t, Stats{RequestsPoliced: 1, KeepAliveTimeouts: 1}, pol.Stats())
	})

	t.Run("IdleTimeout: not before the first request", func(t *testing.T) {
		// net/http times a new connection with ReadHeaderTimeout, not
		// IdleTimeout: so does the Listener, with its own timer.
		_, v, s := start(t, nil, withIdle)
		c := testserver.Dial(t, s.Addr())
		time.Sleep(2 * bound)
		c.Send(t, get("/"))
		expectHello(t, c)
		assert.Empty(t, v.all())
	})

	t.Run("ReadHeaderTimeout: a new connection that sends nothing", func(t *testing.T) {
		pol, v, s := start(t, nil, withHeader)
		began := time.Now()
		c := testserver.Dial(t, s.Addr())
		closedSilently(t, c, began, bound-50*time.Millisecond, bound+late)
		te := v.one(t)
		assert.ErrorIs(t, te, ErrKeepAliveTimeout)
		assert.Equal(t, bound, te.Limit)
		assert.Equal(t, Stats{KeepAliveTimeouts: 1}, pol.Stats())
	})

	t.Run("ReadHeaderTimeout: a later head stopped mid-line", func(t *testing.T) {
		pol, v, s := start(t, nil, withHeader)
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		time.Sleep(2 * bound) // the wait is the keep-alive timer's
		first := time.Now()
		c.Send(t, "GET / HTTP/1.1\r\nHo")
		expect408(t, c)
		took := time.Since(first)
		assert.GreaterOrEqual(t, took, bound-50*time.Millisecond)
		assert.Less(t, took, bound+late)
		te := v.one(t)
		assert.ErrorIs(t, te, ErrRequestHeadersTimeout)
		assert.Equal(t, bound, te.Limit)
		assert.Equal(t, 408, te.Status())
		assert.Equal(t, Stats{RequestsPoliced: 1, RequestHeadersTimeouts: 1}, pol.Stats())
	})

	t.Run("ReadHeaderTimeout: a first head runs from the accept", func(t *testing.T) {
		_, v, s := start(t, nil, withHeader)
		began := time.Now()
		c := testserver.Dial(t, s.Addr())
		time.Sleep(bound / 2)
		c.Send(t, "GET / HT")
		expect408(t, c)
		took := time.Since(began)
		assert.GreaterOrEqual(t, took, bound-50*time.Millisecond)
		assert.Less(t, took, bound+late)
		assert.Equal(t, bound, v.one(t).Limit)
	})

	t.Run("IdleTimeout: until a later head's fourth byte", func(t *testing.T) {
		// net/http waits for a request's fourth byte under IdleTimeout,
		// and only then times the head with ReadHeaderTimeout.
		pol, v, s := start(t, nil, func(s *http.Server) { s.IdleTimeout, s.ReadHeaderTimeout = bound, 5*time.Second })
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		began := time.Now()
		time.Sleep(bound / 3)
		c.Send(t, "GE")
		expect408(t, c)
		took := time.Since(began)
		assert.GreaterOrEqual(t, took, bound-50*time.Millisecond)
		assert.Less(t, took, bound+late, "not the ReadHeaderTimeout of 5 s")
		te := v.one(t)
		assert.ErrorIs(t, te, ErrRequestHeadersTimeout)
		assert.Equal(t, bound, te.Limit)
		assert.Equal(t, Stats{RequestsPoliced: 1, RequestHeadersTimeouts: 1}, pol.Stats())
	})

	t.Run("after a POST, the CR and LF net/http skips count toward its four bytes", func(t *testing.T) {
		_, v, s := start(t, nil, func(s *http.Server) { s.IdleTimeout, s.ReadHeaderTimeout = 5*time.Second, bound })
		c := testserver.Dial(t, s.Addr())
		c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
		expectHello(t, c)
		began := time.Now()
		c.Send(t, "\r\nGE")
		expect408(t, c)
		took := time.Since(began)
		assert.GreaterOrEqual(t, took, bound-50*time.Millisecond)
		assert.Less(t, took, bound+late, "ReadHeaderTimeout from the fourth byte, not IdleTimeout's 5 s")
		assert.Equal(t, bound, v.one(t).Limit)
	})

	t.Run("KeepAliveTimeout off: a later head's idle bound runs from the wait", func(t *testing.T) {
		// The wait is the server's own, under IdleTimeout; its first byte
		// does not restart it.
		const idle = time.Second
		off := func(c *Config) { c.KeepAliveTimeout = -1 }
		_, v, s := start(t, off, func(s *http.Server) { s.IdleTimeout = idle })
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		began := time.Now()
		time.Sleep(idle * 8 / 10)
		c.Send(t, "G")
		expect408(t, c)
		took := time.Since(began)
		assert.GreaterOrEqual(t, took, idle-50*time.Millisecond)
		assert.Less(t, took, idle+600*time.Millisecond, "from the wait (1 s), not from the byte (1.8 s)")
		assert.Equal(t, idle, v.one(t).Limit)
	})

	t.Run("ReadTimeout where the others are zero: a new connection", func(t *testing.T) {
		keep := func(c *Config) { c.KeepServerTimeouts = true }
		_, v, s := start(t, keep, func(s *http.Server) { s.ReadTimeout = bound })
		began := time.Now()
		c := testserver.Dial(t, s.Addr())
		closedSilently(t, c, began, bound-50*time.Millisecond, bound+late)
		assert.Equal(t, bound, v.one(t).Limit)
	})

	t.Run("ReadTimeout where the others are zero", func(t *testing.T) {
		keep := func(c *Config) { c.KeepServerTimeouts = true }
		pol, v, s := start(t, keep, func(s *http.Server) { s.ReadTimeout = bound })
		assert.Equal(t, bound, s.Config.IdleTimeout, "Apply keeps the shorter ReadTimeout")
		c := testserver.Dial(t, s.Addr())
		c.Send(t, get("/"))
		expectHello(t, c)
		closedSilently(t, c, time.Now(), bound-50*time.Millisecond, bound+late)
		assert.Equal(t, bound, v.one(t).Limit)
		assert.Equal(t, Stats{RequestsPoliced: 1, KeepAliveTimeouts: 1}, pol.Stats())
	})

	t.Run("equal to the timers: nothing changes", func(t *testing.T) {
		_, v, s := start(t, func(c *Config) { c.KeepAliveTimeout, c.RequestHeadersTimeout = bound, bound },
			func(s *http.Server) { s.IdleTimeout, s.ReadHeaderTimeout = bound, bound })
		began := time.Now()
		c := testserver.Dial(t, s.Addr())
		closedSilently(t, c, began, bound-50*time.Millisecond, bound+late)
		assert.Equal(t, bound, v.one(t).Limit)
	})
}

// TestServerBoundsPerServer: one Policy under two servers keeps each
// server's own bounds for its connections only.
func TestServerBoundsPerServer(t *testing.T) {
	const bound = 300 * time.Millisecond
	var v reports
	pol, err := New(Config{KeepAliveTimeout: 10 * time.Second, RequestHeadersTimeout: 10 * time.Second,
		MinRequestBodyDataRate: Off, MinResponseDataRate: Off, OnReject: v.record})
	require.NoError(t, err)
	serve := func(idle time.Duration) *testserver.Server {
		return testserver.Start(t, pol.Handler(hello), h1, func(ts *httptest.Server) {
			ts.Config.IdleTimeout = idle
			require.NoError(t, pol.Apply(ts.Config))
			ts.Listener = pol.Listener(ts.Listener)
		})
	}
	loose := serve(0) // Apply sets 10 s
	strict := serve(bound)

	cl := testserver.Dial(t, loose.Addr())
	cl.Send(t, get("/"))
	expectHello(t, cl)
	cs := testserver.Dial(t, strict.Addr())
	cs.Send(t, get("/"))
	expectHello(t, cs)
	closedSilently(t, cs, time.Now(), bound-50*time.Millisecond, bound+2*time.Second)
	time.Sleep(bound) // the loose server's connection outlives the strict one's bound
	cl.Send(t, get("/"))
	expectHello(t, cl)
	assert.Equal(t, Stats{RequestsPoliced: 3, KeepAliveTimeouts: 1}, pol.Stats())
}

// captureLog sends slog's output to a buffer for the rest of the test, and
// returns a function counting the lines that contain s.
func captureLog(t *testing.T) func(s string) int {
	var mu sync.Mutex
	var logged bytes.Buffer
	// slog.SetDefault sends the log package's output to the new logger;
	// both are restored.
	l, w, flags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(l)
		log.SetOutput(w)
		log.SetFlags(flags)
	})
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil)))
	return func(s string) int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(logged.String(), s)
	}
}

// TestUntimedEachPolicy serves a server with two Policies with timers,
// one through its Listener and one without, applied in both orders: each
// counts only the requests on connections it does not time itself,
// whichever Apply came last. A Policy without timers (rates only) counts
// none.
func TestUntimedEachPolicy(t *testing.T) {
	for _, listenedFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("listened-first=", listenedFirst), func(t *testing.T) {
			captureLog(t)
			var v reports
			listened, err := New(timers(&v))
			require.NoError(t, err)
			unlistened, err := New(timers(&v))
			require.NoError(t, err)
			rates := MinDataRates(Off, Off)
			h := rates.Handler(unlistened.Handler(listened.Handler(hello)))
			s := testserver.Start(t, h, h1, func(ts *httptest.Server) {
				order := []*Policy{listened, unlistened, rates}
				if !listenedFirst {
					order = []*Policy{rates, unlistened, listened}
				}
				for _, p := range order {
					require.NoError(t, p.Apply(ts.Config))
				}
				ts.Listener = listened.Listener(ts.Listener)
			})
			c := testserver.Dial(t, s.Addr())
			c.Send(t, get("/"))
			expectHello(t, c)
			c.Send(t, get("/"))
			expectHello(t, c)
			assert.Zero(t, listened.Stats().UntimedRequests, "the Policy whose Listener the connection came through")
			assert.Equal(t, uint64(2), unlistened.Stats().UntimedRequests, "the Policy with timers but without its Listener")
			assert.Zero(t, rates.Stats().UntimedRequests, "the Policy without timers")
		})
	}
}

// TestWithoutListener: Apply alone leaves heads to net/http, which times a
// new connection from the accept and closes without a word; the requests
// whose connections the Policy could not time are counted, and the first
// is logged.
func TestWithoutListener(t *testing.T) {
	lines := captureLog(t)
	var v reports
	pol, err := New(timers(&v))
	require.NoError(t, err)
	s := serveTimed(t, pol, hello, h1, false)

	c := testserver.Dial(t, s.Addr())
	time.Sleep(idle)
	c.Send(t, get("/"))
	noAnswer(t, c) // ReadHeaderTimeout ran from the accept

	c = testserver.Dial(t, s.Addr())
	for range 2 {
		c.Send(t, get("/"))
		expectHello(t, c)
	}
	assert.Equal(t, Stats{RequestsPoliced: 2, UntimedRequests: 2}, pol.Stats())
	assert.Equal(t, 1, lines("Stats.UntimedRequests"), "logged once")
	assert.Empty(t, v.all(), "net/http's own timeouts are not reported")

	// Over TLS and HTTP/2, the server's timeouts are the design. (Kestrel's
	// timers: a TLS handshake under the race detector may take longer than
	// the tests'.)
	for _, p := range []testserver.Proto{testserver.H1TLS, h2, h2c} {
		pol, err := New(Config{})
		require.NoError(t, err)
		s := serveTimed(t, pol, hello, p, false)
		code, body := s.Get(t, "/", nil)
		assert.Equal(t, 200, code)
		assert.Equal(t, "hello", body)
		assert.Equal(t, Stats{RequestsPoliced: 1}, pol.Stats(), "%s", p)
	}

	// A Policy without timers has nothing to time.
	rates := MinDataRates(Off, Off)
	s = serveTimed(t, rates, hello, h1, false)
	code, _ := s.Get(t, "/", nil)
	assert.Equal(t, 200, code)
	assert.Zero(t, rates.Stats().UntimedRequests)
}

// TestListenerOverTLSAndHTTP2: the Listener under crypto/tls passes TLS
// through, and HTTP/2 connections too; nothing is counted as untimed.
func TestListenerOverTLSAndHTTP2(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H1TLS, h2, h2c} {
		t.Run(string(p), func(t *testing.T) {
			// Kestrel's timers: a TLS handshake under the race detector
			// may take longer than the tests'.
			pol, err := New(Config{})
			require.NoError(t, err)
			s := serveTimed(t, pol, hello, p, true)
			for range 2 {
				code, body := s.Get(t, "/", nil)
				assert.Equal(t, 200, code)
				assert.Equal(t, "hello", body)
			}
			assert.Equal(t, Stats{RequestsPoliced: 2}, pol.Stats())
		})
	}
	// Over TLS the server's deadlines time the wait: ReadHeaderTimeout
	// covers the handshake and the first head, and a client that sends
	// nothing is closed after it, silently.
	var v reports
	pol, err := New(timers(&v))
	require.NoError(t, err)
	s := serveTimed(t, pol, hello, testserver.H1TLS, true)
	began := time.Now()
	c := testserver.Dial(t, s.Addr())
	closedSilently(t, c, began, headers-50*time.Millisecond, headers+time.Second)
	assert.Equal(t, Stats{}, pol.Stats())
}

// headListener stands for limits.Limiter.Listener: it follows each
// connection with a Wire of the head's part, joining one it finds.
type headListener struct {
	net.Listener
	w *h1wire.Wire
}

func (l headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c, _ = l.w.Follow(c)
	return c, nil
}

// TestListenerStacks: stacked with another listener that follows the
// connection (limits'), in either order, one wrapper reads each head; each
// listener's Wire counts its own decisions.
func TestListenerStacks(t *testing.T) {
	for _, order := range []string{"timeouts outside", "timeouts inside"} {
		t.Run(order, func(t *testing.T) {
			var v reports
			pol, err := New(timers(&v))
			require.NoError(t, err)
			head := h1wire.New(h1wire.Config{MaxRequestHeaderCount: 2, Parts: h1wire.PartHead})
			wrappers := make(chan int, 16)
			s := testserver.Start(t, pol.Handler(hello), h1, func(ts *httptest.Server) {
				require.NoError(t, pol.Apply(ts.Config))
				if order == "timeouts outside" {
					ts.Listener = pol.Listener(headListener{ts.Listener, head})
				} else {
					ts.Listener = headListener{pol.Listener(ts.Listener), head}
				}
				next := ts.Config.ConnContext
				ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
					n := 0
					for l := range netconn.Layers(c) {
						if _, ok := l.(*h1wire.Conn); ok {
							n++
						}
					}
					wrappers <- n
					return next(ctx, c)
				}
			})

			c := testserver.Dial(t, s.Addr())
			time.Sleep(idle)
			c.Send(t, get("/"))
			expectHello(t, c)
			assert.Equal(t, 1, <-wrappers, "one wrapper")
			c.Close() // before its keep-alive timeout

			// The head's limit is the other listener's: 431, counted there.
			c = testserver.Dial(t, s.Addr())
			c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")
			res, _ := c.Response(t)
			assert.Equal(t, 431, res.StatusCode)
			assert.True(t, res.Close)

			// The timers are the Policy's: 408, counted by it.
			c = testserver.Dial(t, s.Addr())
			c.Send(t, "GET / HTTP/1.1\r\nHo")
			expect408(t, c)
			assert.ErrorIs(t, v.one(t), ErrRequestHeadersTimeout)
			assert.Equal(t, Stats{RequestsPoliced: 1, RequestHeadersTimeouts: 1}, pol.Stats())
			closed := head.Stats().Closed
			assert.EqualValues(t, 1, closed[h1wire.ReasonTooManyHeaders])
			assert.Zero(t, closed[h1wire.ReasonRequestHeadersTimeout])
		})
	}
}

// TestListenerWrapping: what the Listener hands on, and what it keeps of
// the listener and connections it wraps.
func TestListenerWrapping(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	go func() {
		if c, err := net.Dial("tcp", tcp.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	ln := pol.Listener(tcp)
	assert.Equal(t, tcp, ln.(interface{ Unwrap() net.Listener }).Unwrap())
	assert.Equal(t, tcp.Addr(), ln.Addr())
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	_, ok := c.(*h1wire.Conn)
	assert.True(t, ok, "a plaintext connection is wrapped")
	assert.Implements(t, (*io.ReaderFrom)(nil), c, "sendfile")
	assert.Implements(t, (*interface{ CloseWrite() error })(nil), c)
	assert.IsType(t, &net.TCPConn{}, c.(interface{ NetConn() net.Conn }).NetConn())
	require.NoError(t, ln.Close())
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Close is ln's")

	// A *tls.Conn, or a wrapper of one, goes to net/http as it is.
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	tc := tls.Server(server, &tls.Config{})
	fake := testserver.NewChanListener(tc, netconnWrapper{tc})
	ln = pol.Listener(fake)
	got, err := ln.Accept()
	require.NoError(t, err)
	assert.Same(t, tc, got)
	got, err = ln.Accept()
	require.NoError(t, err)
	assert.Equal(t, netconnWrapper{tc}, got)

	// Without timers, nothing to wrap: ln itself.
	assert.Same(t, fake, MinDataRates(Rate{}, Rate{}).Listener(fake))
	off, err := New(Config{KeepAliveTimeout: -1, RequestHeadersTimeout: -1})
	require.NoError(t, err)
	assert.Same(t, fake, off.Listener(fake))
}

// netconnWrapper is a user's wrapper with a NetConn method.
type netconnWrapper struct{ net.Conn }

func (w netconnWrapper) NetConn() net.Conn { return w.Conn }

func TestTimeoutError(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}
	ka := &TimeoutError{Limit: 130 * time.Second, Addr: addr}
	assert.Equal(t, "windhover/timeouts: no request within the keep-alive timeout (2m10s) from 192.0.2.1:1234", ka.Error())
	assert.ErrorIs(t, ka, ErrKeepAliveTimeout)
	assert.ErrorIs(t, ka, os.ErrDeadlineExceeded)
	assert.Zero(t, ka.Status())
	var ne net.Error
	require.True(t, errors.As(error(ka), &ne))
	assert.True(t, ne.Timeout())

	h := &TimeoutError{Limit: 30 * time.Second, headers: true}
	assert.Equal(t, "windhover/timeouts: request head not received within the request headers timeout (30s)", h.Error())
	assert.ErrorIs(t, h, ErrRequestHeadersTimeout)
	assert.NotErrorIs(t, h, ErrKeepAliveTimeout)
	assert.Equal(t, 408, h.Status())
}
