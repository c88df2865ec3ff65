package metrics_test

import (
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

// Middleware that copies the request on its way (limits, for requests with
// a body) hides the ServeMux pattern from the Handler; Route reports it.
func ExampleMetrics_Route() {
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
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	h := m.Handler(lim.Handler(m.Route(mux)))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/items/7", strings.NewReader("{}")))
	printSeries(reg, "http_server_request_duration_seconds_count")
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1
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
