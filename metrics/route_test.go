package metrics

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// copying is an application's middleware that hands on a copy of the
// request, as tracing and logging middleware do.
func copying(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), copyingKey{}, true)))
	})
}

type copyingKey struct{}

// TestRoute checks the route label of GETs and POSTs over every protocol
// behind limits and timeouts, which hand on copies of requests with a body
// (over HTTP/2, of every request): found without Route, since they set the
// ServeMux's pattern back; behind an application's middleware that copies
// the request, found only with Route.
func TestRoute(t *testing.T) {
	lim, err := limits.New(limits.Config{})
	require.NoError(t, err)
	pol, err := timeouts.New(timeouts.Config{})
	require.NoError(t, err)
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C, testserver.H2} {
		for _, tc := range []struct {
			name      string
			route     bool // m.Route around the ServeMux
			copying   bool // the application's copying middleware in front of it
			sizes     bool // RequestSizes: the Handler copies requests with a body too
			wantRoute bool
		}{
			{"policies", false, false, false, true},
			{"policies, sizes", false, false, true, true},
			{"policies, Route", true, false, false, true},
			{"copying middleware", false, true, false, false},
			{"copying middleware, Route", true, true, true, true},
		} {
			t.Run(fmt.Sprint(p, "/", tc.name), func(t *testing.T) {
				cfg := testConfig
				cfg.RequestSizes = tc.sizes
				m, reg := newMetrics(t, cfg)
				var app http.Handler = routes()
				if tc.route {
					app = m.Route(app)
				}
				if tc.copying {
					app = copying(app)
				}
				s := serve(t, m, lim.Handler(pol.Handler(app)), p, func(ts *httptest.Server) {
					require.NoError(t, lim.Apply(ts.Config))
					require.NoError(t, pol.Apply(ts.Config))
				})
				script(t, s)
				get, post := "/items/{id}", "/upload"
				if !tc.wantRoute {
					get, post = "", ""
				}
				assert.Equal(t, 2.0, value(t, reg, "http_server_request_duration_seconds", "http_request_method", "GET", "http_route", get))
				assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "http_request_method", "POST", "http_route", post))
			})
		}
	}
}

// TestRoutePanic checks that a request whose handler panics keeps its route
// through the policies' copies.
func TestRoutePanic(t *testing.T) {
	lim, err := limits.New(limits.Config{})
	require.NoError(t, err)
	pol, err := timeouts.New(timeouts.Config{})
	require.NoError(t, err)
	m, reg := newMetrics(t, testConfig)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /boom/{id}", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h := m.Handler(lim.Handler(pol.Handler(mux)))
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/boom/1", strings.NewReader("x")))
	}()
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds",
		"http_route", "/boom/{id}", "http_response_status_code", "500"))
}

// TestRouteFunc checks a route reported by RouteFunc, as it is (no method
// cut), and an empty one, left out.
func TestRouteFunc(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	route := m.RouteFunc(func(r *http.Request) string {
		if r.URL.Path == "/unrouted" {
			return ""
		}
		return "GET /tmpl/{x}"
	})
	h := m.Handler(copying(route(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/a", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/unrouted", nil))
	expect(t, reg, `
		http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="GET /tmpl/{x}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http",le="60"} 1
		http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="GET /tmpl/{x}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http",le="+Inf"} 1
		http_server_request_duration_seconds_sum{http_request_method="GET",http_response_status_code="200",http_route="GET /tmpl/{x}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 0
		http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="GET /tmpl/{x}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
		http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http",le="60"} 1
		http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http",le="+Inf"} 1
		http_server_request_duration_seconds_sum{http_request_method="GET",http_response_status_code="200",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 0
		http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
	`, "http_server_request_duration_seconds")
}

func TestRouteFuncNil(t *testing.T) {
	m, _ := newMetrics(t, Config{})
	assert.PanicsWithValue(t, "metrics: RouteFunc with a nil route", func() { m.RouteFunc(nil) })
}

// TestCardinality sends 100,000 requests of random paths and methods
// through the Handler and a ServeMux, and checks that the
// request series stay bounded: methods to the ten of methods (nine known
// and _OTHER), routes to the ServeMux's patterns, statuses to what the
// handlers answer.
func TestCardinality(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	h := m.Handler(routes())
	rnd := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	word := func(n int) string {
		b := make([]byte, rnd.IntN(n+1))
		for i := range b {
			b[i] = letters[rnd.IntN(len(letters))]
		}
		return string(b)
	}
	prefixes := []string{"/items/", "/upload", "/teapot", "/", "/x/"}
	w := testserver.NewNopWriter()
	base := httptest.NewRequest("GET", "/", nil)
	for range 100_000 {
		method := methods[rnd.IntN(numMethods-1)]
		if rnd.IntN(3) == 0 {
			method = strings.ToUpper(word(8)) // an unknown method, or by chance none or a known one
		}
		r := *base // cheaper than httptest.NewRequest's parse, 100,000 times
		r.Method = method
		r.URL = &url.URL{Path: prefixes[rnd.IntN(len(prefixes))] + word(12)}
		if rnd.IntN(2) == 0 {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("body")), 4
		}
		h.ServeHTTP(w, &r)
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]int{}
	routes, statuses := map[string]bool{}, map[string]bool{}
	for _, mf := range mfs {
		counts[mf.GetName()] = len(mf.Metric)
		if mf.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		for _, s := range mf.Metric {
			for _, l := range s.Label {
				switch l.GetName() {
				case "http_route":
					routes[l.GetValue()] = true
				case "http_response_status_code":
					statuses[l.GetValue()] = true
				}
			}
		}
	}
	// The ServeMux's three patterns, and none for a 404 or 405.
	assert.Equal(t, map[string]bool{"/items/{id}": true, "/upload": true, "/teapot": true}, routes)
	assert.Subset(t, []string{"200", "404", "405", "418"}, keys(statuses))
	// Ten methods, one scheme and protocol, and per method at most the
	// three routes' statuses and the unrouted 404 and 405: the bound,
	// however many requests come.
	bound := numMethods * 5
	t.Logf("series: %v", counts)
	assert.LessOrEqual(t, counts["http_server_request_duration_seconds"], bound)
	assert.LessOrEqual(t, counts["http_server_request_body_size_bytes"], bound)
	assert.LessOrEqual(t, counts["http_server_active_requests"], numMethods)
	assert.Len(t, *m.cache.Load(), counts["http_server_request_duration_seconds"], "one cached tuple a series")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
