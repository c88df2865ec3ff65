package timeouts

import (
	"bytes"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// logging is the ResponseWriter of a logging middleware written without an
// Unwrap method: it hides net/http's writer from http.ResponseController.
type logging struct{ http.ResponseWriter }

func hideWriter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(logging{w}, r)
	})
}

// serveHidden is serve with a writer-hiding middleware outside the policy.
func serveHidden(t *testing.T, pol *Policy, h http.Handler, p testserver.Proto) *testserver.Server {
	t.Helper()
	return testserver.Start(t, hideWriter(pol.Handler(h)), p, func(ts *httptest.Server) {
		require.NoError(t, pol.Apply(ts.Config))
		ts.Listener = pol.Listener(smallBuffers{ts.Listener})
	})
}

// TestHiddenWriterRatesEnforced is issue 11's fifth hole: behind a writer
// that hides net/http's, the rates could not cut anything, and a slow upload
// ran for ever. Over HTTP/1 the connection Apply keeps in the context takes
// the deadlines instead.
func TestHiddenWriterRatesEnforced(t *testing.T) {
	t.Run("body", func(t *testing.T) {
		pol, err := New(Config{MinRequestBodyDataRate: testRate})
		require.NoError(t, err)
		h := newReadAll()
		s := serveHidden(t, pol, h, h1)
		// Three bytes of a thousand, then nothing: only a cut ends the
		// handler's Read.
		c := testserver.Dial(t, s.Addr())
		c.Send(t, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nabc")
		require.NoError(t, c.SetReadDeadline(time.Now().Add(testRate.GracePeriod+2*time.Second)))
		res, _ := c.Response(t)
		assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
		assert.True(t, c.ClosedByPeer(t))
		_, readErr := h.result(t)
		assert.ErrorIs(t, readErr, ErrMinRequestBodyDataRate)
		assert.Equal(t, Stats{RequestsPoliced: 1, BodyRateViolations: 1}, pol.Stats())
	})
	t.Run("response", func(t *testing.T) {
		pol, err := New(Config{MinResponseDataRate: Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond}})
		require.NoError(t, err)
		h := newEndless(false)
		s := serveHidden(t, pol, h, h1)
		stalledClient(t, s, true)
		written, elapsed, writeErr := h.result(t)
		require.Error(t, writeErr, "the handler's write failed")
		assert.Less(t, written, int64(10<<20))
		assert.Less(t, elapsed, 10*time.Second)
		assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)
		assert.Zero(t, pol.Stats().UnenforceableRequests)
	})
	t.Run("unread body", func(t *testing.T) {
		pol, err := New(Config{})
		require.NoError(t, err)
		s := serveHidden(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hello"))
		}), h1)
		c := testserver.Dial(t, s.Addr())
		c.Send(t, "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n")
		require.NoError(t, c.SetReadDeadline(time.Now().Add(answerWithin)))
		res, body := c.Response(t)
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, "hello", body)
		assert.True(t, c.ClosedByPeer(t))

		// An honest small body keeps the connection there too.
		c = testserver.Dial(t, s.Addr())
		c.Send(t, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789")
		res, _ = c.Response(t)
		assert.False(t, res.Close)
		c.Send(t, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		res, _ = c.Response(t)
		assert.Equal(t, 200, res.StatusCode)
	})
}

// TestHiddenWriterUnenforceableReported: where no deadline can be reached
// (HTTP/2, whose connection other streams share; a server without Apply),
// every such request is counted and the first is logged.
func TestHiddenWriterUnenforceableReported(t *testing.T) {
	var mu sync.Mutex
	var logged bytes.Buffer
	// slog.SetDefault sends the log package's output to the new logger;
	// both are restored.
	defer func(l *slog.Logger, w io.Writer, flags int) {
		slog.SetDefault(l)
		log.SetOutput(w)
		log.SetFlags(flags)
	}(slog.Default(), log.Writer(), log.Flags())
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil)))
	lines := func() int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(logged.String(), "Stats.UnenforceableRequests")
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	for _, p := range []testserver.Proto{h2, h2c} {
		t.Run(string(p), func(t *testing.T) {
			mu.Lock()
			logged.Reset()
			mu.Unlock()
			pol, err := New(Config{})
			require.NoError(t, err)
			s := serveHidden(t, pol, hello, p)
			for range 2 {
				code, body := s.Get(t, "/", nil)
				assert.Equal(t, 200, code)
				assert.Equal(t, "hello", body)
			}
			assert.EqualValues(t, 2, pol.Stats().UnenforceableRequests)
			assert.Equal(t, 1, lines(), "logged once")
		})
	}
	t.Run("h1 without Apply", func(t *testing.T) {
		pol, err := New(Config{})
		require.NoError(t, err)
		s := testserver.Start(t, hideWriter(pol.Handler(hello)), h1)
		code, _ := s.Get(t, "/", nil)
		assert.Equal(t, 200, code)
		assert.EqualValues(t, 1, pol.Stats().UnenforceableRequests)
	})
	t.Run("nothing to enforce", func(t *testing.T) {
		pol := MinDataRates(Off, Off)
		s := serveHidden(t, pol, hello, h2c)
		code, _ := s.Get(t, "/", nil)
		assert.Equal(t, 200, code)
		assert.Zero(t, pol.Stats().UnenforceableRequests)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
