package benchmarks

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
)

// printSeries scrapes g as Prometheus would and prints the lines that
// start with prefix.
func printSeries(g prometheus.Gatherer, prefix string) {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, prefix) {
			fmt.Print(line)
		}
	}
}

// newMetrics returns a Metrics registered with a new registry.
func newMetrics() (*metrics.Metrics, *prometheus.Registry) {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		log.Fatal(err)
	}
	return m, reg
}

// chi v5.5.0 sets the request's Pattern ("/items/{id}"), but on the copy of
// the request it makes before routing, which the Handler does not see:
// Route, as the router's middleware, reports it.
func Example_chi() {
	m, reg := newMetrics()
	r := chi.NewRouter()
	r.Use(m.Route)
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := m.Handler(r)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
}

// gorilla/mux v1.8.1 sets no Pattern; it knows the route it matched, whose
// template RouteFunc, as the router's middleware, reports.
func Example_gorillaMux() {
	m, reg := newMetrics()
	r := mux.NewRouter()
	r.Use(m.RouteFunc(func(r *http.Request) string {
		t, _ := mux.CurrentRoute(r).GetPathTemplate()
		return t
	}))
	r.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {}).Methods("GET")
	h := m.Handler(r)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
}

// net/http's ServeMux sets the Pattern on the request it is handed, which
// windhover's policies, where they hand on a copy, set back on theirs: the
// Handler sees the route with no further wiring.
func Example_serveMux() {
	m, reg := newMetrics()
	mx := http.NewServeMux()
	mx.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := m.Handler(mx)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
}

// TestRouters checks the route label of a GET and a POST with a body
// through windhover's limits and timeouts to each router: a ServeMux's
// without wiring, chi's with Route and gorilla/mux's with RouteFunc, and
// none for chi and gorilla/mux without them.
func TestRouters(t *testing.T) {
	read := func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }
	routers := []struct {
		name  string
		route string
		build func(m *metrics.Metrics) http.Handler
	}{
		{"ServeMux", "/items/{id}", func(*metrics.Metrics) http.Handler {
			mx := http.NewServeMux()
			mx.HandleFunc("/items/{id}", read)
			return mx
		}},
		{"chi", "", func(*metrics.Metrics) http.Handler {
			r := chi.NewRouter()
			r.HandleFunc("/items/{id}", read)
			return r
		}},
		{"chi, Route", "/items/{id}", func(m *metrics.Metrics) http.Handler {
			r := chi.NewRouter()
			r.Use(m.Route)
			r.HandleFunc("/items/{id}", read)
			return r
		}},
		{"gorilla", "", func(*metrics.Metrics) http.Handler {
			r := mux.NewRouter()
			r.HandleFunc("/items/{id}", read)
			return r
		}},
		{"gorilla, RouteFunc", "/items/{id}", func(m *metrics.Metrics) http.Handler {
			r := mux.NewRouter()
			r.Use(m.RouteFunc(func(r *http.Request) string {
				t, _ := mux.CurrentRoute(r).GetPathTemplate()
				return t
			}))
			r.HandleFunc("/items/{id}", read)
			return r
		}},
	}
	lim, err := limits.New(limits.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range routers {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics()
			h := m.Handler(lim.Handler(pol.Handler(tc.build(m))))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/items/7", strings.NewReader("{}")))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, mf := range mfs {
				if mf.GetName() != "http_server_request_duration_seconds" {
					continue
				}
				for _, s := range mf.GetMetric() {
					var method, route string
					for _, l := range s.GetLabel() {
						switch l.GetName() {
						case "http_request_method":
							method = l.GetValue()
						case "http_route":
							route = l.GetValue()
						}
					}
					seen[method] = route
				}
			}
			want := map[string]string{"GET": tc.route, "POST": tc.route}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("routes by method: %v, want %v", seen, want)
			}
		})
	}
}
