package limits_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
)

// bodyApp is a handler that, as ?set=n asks, sets its request's body limit
// to n (after reading a byte first with &readfirst), then reads the whole
// body and answers its length. It leaves a body over the limit to the
// Limiter's 413, and answers 500 with the error if setting the limit failed.
var bodyApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var n int64
	if q := r.URL.Query(); q.Has("set") {
		if q.Has("readfirst") {
			read, _ := r.Body.Read(make([]byte, 1))
			n += int64(read)
		}
		limit, _ := strconv.ParseInt(q.Get("set"), 10, 64)
		if err := limits.SetMaxRequestBodySize(r, limit); err != nil {
			http.Error(w, "set: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	rest, err := io.Copy(io.Discard, r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprint(w, n+rest)
})

// hiddenLength hides a reader's length, so that clients send its bytes
// chunked over HTTP/1 and as DATA frames alone over HTTP/2.
type hiddenLength struct{ io.Reader }

// bodyCase is one request of an ordering test and the answer it must get.
type bodyCase struct {
	target   string
	size     int
	declared bool
	code     int
	body     string // checked when not empty
}

// post sends tc to s and checks the answer.
func (tc bodyCase) post(t *testing.T, s *testserver.Server) {
	t.Helper()
	var body io.Reader = bytes.NewReader(make([]byte, tc.size))
	if !tc.declared {
		body = hiddenLength{body}
	}
	req, err := http.NewRequest("POST", s.URL+tc.target, body)
	require.NoError(t, err)
	code, got := s.Do(t, req)
	assert.Equal(t, tc.code, code, "%s, %d bytes, declared %v: %s", tc.target, tc.size, tc.declared, got)
	if tc.body != "" {
		assert.Equal(t, tc.body, got, "%s, %d bytes, declared %v", tc.target, tc.size, tc.declared)
	}
}

// both returns c for a declared and for a chunked body.
func both(c bodyCase) []bodyCase {
	chunked := c
	c.declared = true
	return []bodyCase{c, chunked}
}

// serveLimits starts h, Applying lim, speaking p.
func serveLimits(t *testing.T, lim *limits.Limiter, h http.Handler, p testserver.Proto) *testserver.Server {
	return testserver.Start(t, h, p, func(ts *httptest.Server) { require.NoError(t, lim.Apply(ts.Config)) })
}

// middleware returns timeouts.Handler and metrics.Handler with body sizes,
// the two that wrap request bodies, by name.
func middleware(t *testing.T) map[string]func(http.Handler) http.Handler {
	pol, err := timeouts.New(timeouts.Config{})
	require.NoError(t, err)
	m, err := metrics.New(metrics.Config{RequestSizes: true})
	require.NoError(t, err)
	return map[string]func(http.Handler) http.Handler{
		"timeouts": pol.Handler,
		"metrics":  m.Handler,
	}
}

// TestSetMaxRequestBodySizeInEveryOrder changes the body limit from the
// handler with the Limiter outside or inside the middleware that wraps
// bodies (timeouts, and metrics counting body sizes): the handler's setting
// wins until the first Read, for declared and chunked bodies, over HTTP/1.1
// and HTTP/2. Before, the Limiter outside either middleware could not be
// reached (ErrNoBodyLimit), and in every order a declared length over the
// limit in force when the request arrived was refused before the handler
// could raise it.
func TestSetMaxRequestBodySizeInEveryOrder(t *testing.T) {
	var cases []bodyCase
	for _, c := range []bodyCase{
		{target: "/", size: 100, code: 200, body: "100"},
		{target: "/", size: 101, code: 413},
		{target: "/?set=1000", size: 500, code: 200, body: "500"},
		{target: "/?set=1000", size: 1001, code: 413},
		{target: "/?set=-1", size: 5000, code: 200, body: "5000"},
		{target: "/?set=10", size: 10, code: 200, body: "10"},
		{target: "/?set=10", size: 50, code: 413},
		{target: "/?set=1000&readfirst", size: 50, code: 500,
			body: "set: " + limits.ErrBodyReadStarted.Error() + "\n"},
	} {
		cases = append(cases, both(c)...)
	}
	for name, mw := range middleware(t) {
		for _, outside := range []bool{true, false} {
			order := "limits inside " + name
			if outside {
				order = "limits outside " + name
			}
			t.Run(order, func(t *testing.T) {
				for _, p := range testserver.All {
					t.Run(string(p), func(t *testing.T) {
						lim := limits.MaxRequestBodySize(100)
						h := mw(lim.Handler(bodyApp))
						if outside {
							h = lim.Handler(mw(bodyApp))
						}
						s := serveLimits(t, lim, h, p)
						for _, c := range cases {
							c.post(t, s)
						}
					})
				}
			})
		}
	}
}

// TestPerRouteBodyLimit puts a global limit in front of a router whose routes
// raise or lower it with their own MaxRequestBodySize, as chi's
// r.With(limits.MaxRequestBodySize(n).Handler) does, with the middleware that
// wraps bodies around the router or not: the route's limit holds for
// declared and chunked bodies, and the handler can still change it. Before,
// the global limit refused what a route raised it for.
func TestPerRouteBodyLimit(t *testing.T) {
	var cases []bodyCase
	for _, c := range []bodyCase{
		{target: "/", size: 100, code: 200, body: "100"},
		{target: "/", size: 101, code: 413},
		{target: "/raise", size: 500, code: 200, body: "500"},
		{target: "/raise", size: 1000, code: 200, body: "1000"},
		{target: "/raise", size: 1001, code: 413},
		{target: "/raise?set=2000", size: 1500, code: 200, body: "1500"},
		{target: "/lower", size: 10, code: 200, body: "10"},
		{target: "/lower", size: 50, code: 413},
		{target: "/lower?set=2000", size: 1500, code: 200, body: "1500"},
	} {
		cases = append(cases, both(c)...)
	}
	wrappers := middleware(t)
	wrappers["nothing"] = func(h http.Handler) http.Handler { return h }
	for name, mw := range wrappers {
		t.Run("router behind "+name, func(t *testing.T) {
			for _, p := range testserver.All {
				t.Run(string(p), func(t *testing.T) {
					global, err := limits.New(limits.Config{MaxRequestBodySize: 100})
					require.NoError(t, err)
					raise, lower := limits.MaxRequestBodySize(1000), limits.MaxRequestBodySize(10)
					mux := http.NewServeMux()
					mux.Handle("/", bodyApp)
					mux.Handle("/raise", raise.Handler(bodyApp))
					mux.Handle("/lower", lower.Handler(bodyApp))
					s := serveLimits(t, global, global.Handler(mw(mux)), p)
					for _, c := range cases {
						c.post(t, s)
					}
					// Each refusal is counted by the Limiter whose limit
					// was in force.
					assert.EqualValues(t, 2, global.Stats().Rejected[limits.ReasonBodyTooLarge])
					assert.EqualValues(t, 2, raise.Stats().Rejected[limits.ReasonBodyTooLarge])
					assert.EqualValues(t, 2, lower.Stats().Rejected[limits.ReasonBodyTooLarge])
				})
			}
		})
	}
}

// TestBodyLimitAfterFirstRead: once a middleware has read from the body, a
// route's limit can no longer change it, and the one in force holds.
func TestBodyLimitAfterFirstRead(t *testing.T) {
	peek := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = r.Body.Read(make([]byte, 1))
			next.ServeHTTP(w, r)
		})
	}
	global := limits.MaxRequestBodySize(100)
	mux := http.NewServeMux()
	mux.Handle("/raise", limits.MaxRequestBodySize(1000).Handler(bodyApp))
	s := serveLimits(t, global, global.Handler(peek(mux)), testserver.H1)
	for _, c := range both(bodyCase{target: "/raise", size: 500, code: 413}) {
		c.post(t, s)
	}
	for _, c := range both(bodyCase{target: "/raise", size: 100, code: 200, body: "99"}) {
		c.post(t, s)
	}
}
