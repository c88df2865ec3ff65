package hostfilter

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// appSeesNoStar is an application that fails the test if it meets an
// "OPTIONS *" request, and otherwise answers "hello\n".
func appSeesNoStar(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			t.Errorf("the application met %s %s (Host %q)", r.Method, r.RequestURI, r.Host)
		}
		hello(w, r)
	})
}

// TestOptionsStar sends "OPTIONS *" to a server the filter was applied to:
// net/http no longer answers it before the filter (200 to any host, issue
// 11, hole 2), the filter judges its host, and answers it as net/http would
// once it passes; the application never meets it.
func TestOptionsStar(t *testing.T) {
	testserver.CheckNoLeaks(t)
	f := Allow("localhost")
	s := testserver.Start(t, f.Handler(appSeesNoStar(t)), testserver.H1, func(ts *httptest.Server) {
		require.NoError(t, f.Apply(ts.Config))
	})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "invalid hostname\n", body)
	assert.False(t, res.Close)

	// The same connection serves the next request: an allowed host.
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n")
	res, body = c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, int64(0), res.ContentLength)
	assert.Equal(t, "0", res.Header.Get("Content-Length"))
	assert.False(t, res.Close)

	c.Send(t, get11("localhost"))
	res, body = c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "hello\n", body)
	assert.Equal(t, Stats{Allowed: 2, Rejected: [NumReasons]uint64{ReasonHostNotAllowed: 1}}, f.Stats())
}

func TestOptionsStarHTTP2(t *testing.T) {
	testserver.CheckNoLeaks(t)
	for _, p := range []testserver.Proto{testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			f := Allow("localhost")
			s := testserver.Start(t, f.Handler(appSeesNoStar(t)), p, func(ts *httptest.Server) {
				require.NoError(t, f.Apply(ts.Config))
			})
			c := dialH2(t, s)
			assert.Equal(t, h2Result{status: 400, body: "invalid hostname\n"}, c.send(t, "OPTIONS", ptr("evil.example"), "*"))
			assert.Equal(t, h2Result{status: 200}, c.send(t, "OPTIONS", ptr("localhost"), "*"))
			assert.Equal(t, h2Result{status: 200, body: "hello\n"}, c.do(t, ptr("localhost")))
			assert.Equal(t, Stats{Allowed: 2, Rejected: [NumReasons]uint64{ReasonHostNotAllowed: 1}}, f.Stats())
		})
	}
}

// innerPolicy stands for another windhover handler behind the filter: it
// answers "OPTIONS *" itself.
type innerPolicy struct{ seen atomic.Int32 }

func (*innerPolicy) HandlesOptionsStar() {}

func (p *innerPolicy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.seen.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// TestOptionsStarHandedOn checks that the filter hands "OPTIONS *" on to
// another windhover handler, which answers it after its own checks.
func TestOptionsStarHandedOn(t *testing.T) {
	f := Allow("localhost")
	inner := new(innerPolicy)
	s := testserver.Start(t, f.Handler(inner), testserver.H1, func(ts *httptest.Server) {
		require.NoError(t, f.Apply(ts.Config))
	})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, int32(1), inner.seen.Load())
}

// TestOptionsStarWarning shows what a server without Apply does: net/http
// answers "OPTIONS *" for any host before the filter, and the filter says so
// once, at the first request it sees.
func TestOptionsStarWarning(t *testing.T) {
	var logs testserver.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	f := Allow("localhost")
	s := testserver.Start(t, f.Handler(hello), testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "net/http's own answer")
	assert.Empty(t, logs.String(), "the filter never saw it")
	for range 2 {
		c.Send(t, get11("localhost"))
		res, _ = c.Response(t)
		assert.Equal(t, 200, res.StatusCode)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "windhover/hostfilter: the server answers \\\"OPTIONS *\\\""), logs.String())
}
