package metrics

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/limits"
)

// semconv holds the attributes OpenTelemetry's semantic conventions give
// each instrument m exports, opt-in ones left out, as their tables list them:
//
//   - https://opentelemetry.io/docs/specs/semconv/http/http-metrics/
//   - https://opentelemetry.io/docs/specs/semconv/dotnet/dotnet-kestrel-metrics/
//
// Kestrel's server.address and server.port are left out on purpose (see the
// package doc); extra holds the labels windhover adds.
var semconv = []struct {
	instrument, family string
	attributes, extra  []string
}{
	{"http.server.request.duration", "http_server_request_duration_seconds",
		[]string{"http.request.method", "url.scheme", "error.type", "http.response.status_code", "http.route", "network.protocol.name", "network.protocol.version"}, nil},
	{"http.server.active_requests", "http_server_active_requests",
		[]string{"http.request.method", "url.scheme"}, nil},
	{"http.server.request.body.size", "http_server_request_body_size_bytes",
		[]string{"http.request.method", "url.scheme", "error.type", "http.response.status_code", "http.route", "network.protocol.name", "network.protocol.version"}, nil},
	{"http.server.response.body.size", "http_server_response_body_size_bytes",
		[]string{"http.request.method", "url.scheme", "error.type", "http.response.status_code", "http.route", "network.protocol.name", "network.protocol.version"}, nil},
	{"kestrel.active_connections", "windhover_active_connections",
		[]string{"network.transport", "network.type"}, nil},
	{"kestrel.connection.duration", "windhover_connection_duration_seconds",
		[]string{"error.type", "network.protocol.name", "network.protocol.version", "network.transport", "network.type", "tls.protocol.version"}, []string{"state"}},
	{"kestrel.upgraded_connections", "windhover_upgraded_connections",
		[]string{"network.transport", "network.type"}, nil},
	{"kestrel.tls_handshake.duration", "windhover_tls_handshake_duration_seconds",
		[]string{"error.type", "network.transport", "network.type", "tls.protocol.version"}, nil},
	{"kestrel.active_tls_handshakes", "windhover_active_tls_handshakes",
		[]string{"network.transport", "network.type"}, nil},
}

// TestSemanticConventions compares the label names of every family of a
// Metrics with the attributes of its instrument, dots as underscores.
func TestSemanticConventions(t *testing.T) {
	m, err := New(Config{RequestSizes: true})
	require.NoError(t, err)
	have := map[string][]string{}
	for _, c := range m.collectors {
		s := c.(*sparse)
		have[s.fqName] = append([]string(nil), s.labels...)
		sort.Strings(have[s.fqName])
	}
	require.Len(t, have, len(semconv), "a family without its row in the table")
	for _, sc := range semconv {
		var want []string
		for _, a := range sc.attributes {
			want = append(want, strings.ReplaceAll(a, ".", "_"))
		}
		want = append(want, sc.extra...)
		sort.Strings(want)
		assert.Equal(t, want, have[sc.family], sc.instrument)
	}
}

// TestBesideOpenTelemetry registers, on one registry, a family of the same
// name and labels as OpenTelemetry's exporter writes for another service,
// and windhover's: they share the family, and a scrape is clean.
func TestBesideOpenTelemetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	otel := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "http_server_request_duration_seconds",
		Help:        "Duration of HTTP server requests.",
		ConstLabels: prometheus.Labels{"service": "legacy"},
	}, []string{"http_request_method", "http_response_status_code", "http_route", "url_scheme",
		"network_protocol_name", "network_protocol_version", "error_type"})
	require.NoError(t, reg.Register(otel))
	otel.WithLabelValues("GET", "200", "/old", "http", "http", "1.1", "").Observe(0.1)

	m, err := New(Config{ConstLabels: prometheus.Labels{"service": "new"}})
	require.NoError(t, err)
	require.NoError(t, reg.Register(m))
	mux := http.NewServeMux()
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	m.Handler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fail", nil))
	m.Handler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "service", "legacy"))
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "service", "new", "error_type", "502", "http_route", "/fail"))
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "service", "new", "http_response_status_code", "404"))

	// Nothing empty: a label without a value is absent.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
	series:
		for _, s := range mf.Metric {
			for _, l := range s.Label {
				if l.GetValue() == "legacy" {
					continue series // the hand-made family writes its empty error_type
				}
			}
			for _, l := range s.Label {
				assert.NotEmpty(t, l.GetValue(), "%s: label %s", mf.GetName(), l.GetName())
			}
		}
	}
}

// TestTwoPoliciesOfOneKind registers a global rate limiter and a stricter
// one, named, on one registry: each refusal is counted once, under its
// policy's name.
func TestTwoPoliciesOfOneKind(t *testing.T) {
	m, reg := newMetrics(t, Config{})
	global, err := limits.NewRateLimiter(limits.RateConfig{Rate: 1000, Burst: 1000})
	require.NoError(t, err)
	login, err := limits.NewRateLimiter(limits.RateConfig{Rate: 1, Burst: 1})
	require.NoError(t, err)
	require.NoError(t, reg.Register(m.Rate(global, "")))
	require.NoError(t, reg.Register(m.Rate(login, "login")))
	require.ErrorContains(t, reg.Register(m.Rate(login, "again")), `already has the name "login"`,
		"one policy under two names would count each refusal twice")

	h := global.Handler(login.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	}
	assert.Equal(t, 0.0, value(t, reg, "windhover_rejections_total", "policy", "rate", "policy_name", "default", "reason", "rate_limited"))
	assert.Equal(t, 2.0, value(t, reg, "windhover_rejections_total", "policy", "rate", "policy_name", "login", "reason", "rate_limited"))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestCertAuthOff checks that a certauth policy that asks no certificate and
// trusts no proxy exports only what it does: the forwarded headers it strips.
func TestCertAuthOff(t *testing.T) {
	m, reg := newMetrics(t, Config{})
	p, err := certauth.New(certauth.Config{})
	require.NoError(t, err)
	require.False(t, p.Enabled())
	require.NoError(t, reg.Register(m.CertAuth(p, "")))
	assert.Equal(t, []string{"windhover_certauth_forwarded_total"}, names(t, reg))
	assert.Equal(t, 0.0, value(t, reg, "windhover_certauth_forwarded_total", "outcome", "ignored"))

	on, err := certauth.New(certauth.Config{TrustedProxies: []string{"127.0.0.1"}, ClientCAs: x509.NewCertPool()})
	require.NoError(t, err)
	require.True(t, on.Enabled())
	require.NoError(t, reg.Register(m.CertAuth(on, "proxied")))
	assert.Contains(t, names(t, reg), "windhover_rejections_total")
}
