package benchmarks

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/windhover/windhover/metrics"
)

// BenchmarkMetrics compares metrics.Handler (OpenTelemetry's request
// duration histogram and active-requests gauge, labelled by method, status,
// route, scheme and protocol version) with what promhttp's documentation
// chains for the same purpose: InstrumentHandlerDuration around
// InstrumentHandlerCounter, labelled by code and method, with the same
// buckets. Both record into a registry nobody scrapes.
func BenchmarkMetrics(b *testing.B) {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		b.Fatal(err)
	}
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Request durations.", Buckets: metrics.DefaultRequestDurationBuckets,
	}, []string{"code", "method"})
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "Requests.",
	}, []string{"code", "method"})
	prometheus.NewRegistry().MustRegister(m, duration, counter)
	serveArms(b, load{parallel: true}, []arm{
		{"bare", app()},
		{"windhover", m.Handler(app())},
		{"promhttp", promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(counter, app()))},
	})
}
