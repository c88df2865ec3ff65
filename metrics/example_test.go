package metrics_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
)

// printSeries scrapes g as Prometheus would and prints the lines that start
// with prefix.
func printSeries(g prometheus.Gatherer, prefix string) {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, prefix) {
			fmt.Print(line)
		}
	}
}

func get(url string) {
	res, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func Example() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.PathValue("name"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	srv := httptest.NewUnstartedServer(m.Handler(mux))
	if err := m.Apply(srv.Config); err != nil { // connection metrics
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	get(srv.URL + "/hello/ada")
	get(srv.URL + "/hello/grace")
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/hello/{name}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 2
}

// Policies count their decisions themselves; their collectors read the
// counts when Prometheus scrapes.
func ExampleMetrics_Limits() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	lim := limits.MaxRequestBodySize(10)
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Limits(lim, "uploads")); err != nil {
		log.Fatal(err)
	}

	h := lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/upload", strings.NewReader("more than ten bytes")))
	fmt.Println(rec.Code)
	printSeries(reg, `windhover_rejections_total{policy="limits",policy_name="uploads",reason="body`)
	// Output:
	// 413
	// windhover_rejections_total{policy="limits",policy_name="uploads",reason="body_too_large"} 1
}

func ExampleMetrics_Timeouts() {
	m, err := metrics.New(metrics.Config{Namespace: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	pol := timeouts.MinDataRates(timeouts.Rate{}, timeouts.Rate{}) // Kestrel's: 240 B/s after 5 s
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Timeouts(pol, "")); err != nil {
		log.Fatal(err)
	}
	printSeries(reg, "shop_windhover_min_data_rate_violations_total{")
	// Output:
	// shop_windhover_min_data_rate_violations_total{direction="request_body",policy="timeouts",policy_name="default"} 0
	// shop_windhover_min_data_rate_violations_total{direction="response",policy="timeouts",policy_name="default"} 0
}

// A ServeMux behind windhover's policies: the route is reported for every
// request, with a body or not, over HTTP/1.1 and HTTP/2, without further
// wiring. The policies that hand on a copy of a request (limits and
// timeouts, for a body) set the ServeMux's pattern back on theirs.
func Example_serveMux() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	lim, err := limits.New(limits.Config{})
	if err != nil {
		log.Fatal(err)
	}
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	h := m.Handler(lim.Handler(pol.Handler(mux)))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/items/7", strings.NewReader("{}")))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
	// http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
}

type requestIDKey struct{}

// An application's middleware that hands on a copy of the request (here,
// with a request id in its context, as tracing and logging middleware do)
// hides the ServeMux's pattern from the Handler; Route, around the
// ServeMux, reports it.
func ExampleMetrics_Route() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	requestID := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, "42")))
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := m.Handler(requestID(m.Route(mux)))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
}

type traceIDKey struct{}

// An exemplar on the duration: the trace id of the request's context,
// which an OpenTelemetry hook would take from trace.SpanContextFromContext.
func ExampleConfig_exemplar() {
	m, err := metrics.New(metrics.Config{
		Exemplar: func(ctx context.Context) prometheus.Labels {
			if id, ok := ctx.Value(traceIDKey{}).(string); ok {
				return prometheus.Labels{"trace_id": id}
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	traced := func(next http.Handler) http.Handler { // in front of the Handler
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), traceIDKey{}, "4bf92f3577b34da6a3ce929d0e0e4736")))
		})
	}
	h := traced(m.Handler(http.NotFoundHandler()))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, b := range s.GetHistogram().GetBucket() {
				if e := b.GetExemplar(); e != nil {
					fmt.Println(mf.GetName(), e.GetLabel()[0].GetName(), e.GetLabel()[0].GetValue())
				}
			}
		}
	}
	// Output:
	// http_server_request_duration_seconds trace_id 4bf92f3577b34da6a3ce929d0e0e4736
}

// A hardened server measured throughout: requests, connections, TLS
// handshakes and the policies' decisions, scraped on a separate listener.
func ExampleMetrics_TLSConfig() {
	cert, err := tls.LoadX509KeyPair("cert.pem", "key.pem")
	if err != nil {
		log.Fatal(err)
	}
	m, err := metrics.New(metrics.Config{ConstLabels: prometheus.Labels{"server": "public"}})
	if err != nil {
		log.Fatal(err)
	}
	lim, err := limits.New(limits.Config{MaxConcurrentConnections: 10_000})
	if err != nil {
		log.Fatal(err)
	}
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, m.Limits(lim, ""), m.Timeouts(pol, ""))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	srv := &http.Server{
		Handler: m.Handler(lim.Handler(pol.Handler(m.Route(mux)))),
		// The certificates go in the configuration, not in ServeTLS's file
		// names, so that TLSConfig's copies of it hold them.
		TLSConfig: m.TLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
	}
	if err := errors.Join(lim.Apply(srv), pol.Apply(srv), m.Apply(srv)); err != nil {
		log.Fatal(err)
	}

	go http.ListenAndServe("127.0.0.1:9090", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", ":8443")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.ServeTLS(lim.Listener(ln), "", ""))
}
