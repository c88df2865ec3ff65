package metrics

import (
	"context"
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// Bucket boundaries, in seconds, used when a Config leaves them nil.
var (
	// DefaultRequestDurationBuckets are OpenTelemetry's advice for
	// http.server.request.duration, which Kestrel also uses for TLS
	// handshakes.
	DefaultRequestDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

	// DefaultConnectionDurationBuckets are Kestrel's for
	// kestrel.connection.duration, from 10 ms to 5 minutes.
	DefaultConnectionDurationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

	// DefaultSizeBuckets, in bytes, are powers of ten from 100 B to 1 GB
	// (OpenTelemetry gives no advice for body sizes).
	DefaultSizeBuckets = []float64{100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}
)

// Config configures [Metrics]. The zero Config is ready to use: metric names
// without a namespace, no constant labels, no body size histograms, and the
// default buckets.
type Config struct {
	// Namespace, if set, is prepended with an underscore to every metric
	// name: "shop" gives shop_http_server_request_duration_seconds and
	// shop_windhover_active_connections. It must be a valid metric name.
	Namespace string

	// ConstLabels are added to every series of every collector built from
	// the Metrics, the policy collectors included: to tell servers or
	// instances apart. Their names must be valid label names and must not
	// be one of the labels the collectors set themselves. Two Metrics in
	// one registry need ConstLabels with the same names and values of their
	// own (or Namespaces of their own): Prometheus wants the families of one
	// name to have the same label names throughout a registry, and
	// [Metrics.Register] says so when they do not.
	ConstLabels prometheus.Labels

	// RequestSizes adds http_server_request_body_size_bytes and
	// http_server_response_body_size_bytes: the body bytes the handler
	// actually read and wrote, not the declared Content-Length. Counting
	// request bytes wraps each request body, so it is off by default.
	RequestSizes bool

	// RequestDurationBuckets are the upper bounds of
	// http_server_request_duration_seconds. Nil or empty means
	// [DefaultRequestDurationBuckets]. They must be increasing.
	RequestDurationBuckets []float64

	// SizeBuckets are the upper bounds of the body size histograms, in
	// bytes. Nil or empty means [DefaultSizeBuckets].
	SizeBuckets []float64

	// ConnectionDurationBuckets are the upper bounds of
	// windhover_connection_duration_seconds. Nil or empty means
	// [DefaultConnectionDurationBuckets].
	ConnectionDurationBuckets []float64

	// Exemplar, if set, is called with the context of each request the
	// Handler measured, once it is done, and returns the labels of an
	// exemplar for its observation of http_server_request_duration_seconds:
	// the trace the request belongs to, typically, so that a dashboard
	// links a slow bucket to a trace. Nil, the default, records no
	// exemplars and costs nothing; so does a call that returns nil. The
	// labels Prometheus refuses (more than 128 characters in all, invalid
	// names or values) are dropped, the duration observed without them.
	// With OpenTelemetry, whose span the request's context must carry (put
	// its middleware in front of the Handler):
	//
	//	Exemplar: func(ctx context.Context) prometheus.Labels {
	//		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
	//			return prometheus.Labels{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()}
	//		}
	//		return nil
	//	},
	//
	// Exemplars are exposed in the OpenMetrics format only
	// (promhttp.HandlerOpts.EnableOpenMetrics) or through remote write.
	Exemplar func(ctx context.Context) prometheus.Labels

	// TLSHandshakeDurationBuckets are the upper bounds of
	// windhover_tls_handshake_duration_seconds. Nil or empty means
	// [DefaultRequestDurationBuckets], as in Kestrel.
	TLSHandshakeDurationBuckets []float64
}

// reservedLabels are the label names the collectors set; a constant label of
// the same name would make series ambiguous.
var reservedLabels = []string{
	labelMethod, labelStatus, labelRoute, labelScheme, labelProtocol, labelProtocolName,
	labelTransport, labelNetworkType, labelTLSVersion, labelState, labelErrorType,
	labelPolicy, labelPolicyName, labelReason, labelDirection,
	"le", "quantile",
}

// settings is a validated Config.
type settings struct {
	namespace    string
	constLabels  prometheus.Labels
	requestSizes bool
	duration     []float64
	size         []float64
	connection   []float64
	handshake    []float64
	exemplar     func(context.Context) prometheus.Labels
}

func (c *Config) settings() (settings, error) {
	s := settings{namespace: c.Namespace, requestSizes: c.RequestSizes, exemplar: c.Exemplar}
	if c.Namespace != "" && !validName(c.Namespace, true) {
		return s, fieldError("Namespace", fmt.Sprintf("%q", c.Namespace), "is not a valid metric name")
	}
	s.constLabels = make(prometheus.Labels, len(c.ConstLabels))
	for name, value := range c.ConstLabels {
		if !validName(name, false) || len(name) > 1 && name[:2] == "__" {
			return s, fieldError("ConstLabels", fmt.Sprintf("%q", name), "is not a valid label name")
		}
		for _, r := range reservedLabels {
			if name == r {
				return s, fieldError("ConstLabels", fmt.Sprintf("%q", name), "is a label the collectors set themselves")
			}
		}
		s.constLabels[name] = value
	}
	var err error
	if s.duration, err = buckets("RequestDurationBuckets", c.RequestDurationBuckets, DefaultRequestDurationBuckets); err != nil {
		return s, err
	}
	if s.size, err = buckets("SizeBuckets", c.SizeBuckets, DefaultSizeBuckets); err != nil {
		return s, err
	}
	if s.connection, err = buckets("ConnectionDurationBuckets", c.ConnectionDurationBuckets, DefaultConnectionDurationBuckets); err != nil {
		return s, err
	}
	if s.handshake, err = buckets("TLSHandshakeDurationBuckets", c.TLSHandshakeDurationBuckets, DefaultRequestDurationBuckets); err != nil {
		return s, err
	}
	return s, nil
}

// buckets checks b, which prometheus would otherwise panic on, and returns a
// copy of it or of def.
func buckets(field string, b, def []float64) ([]float64, error) {
	if len(b) == 0 {
		return append([]float64(nil), def...), nil
	}
	for i, v := range b {
		if math.IsNaN(v) {
			return nil, fieldError(field, b, "holds NaN")
		}
		if i > 0 && v <= b[i-1] {
			return nil, fieldError(field, b, "must be strictly increasing")
		}
	}
	return append([]float64(nil), b...), nil
}

// validName reports whether s is a metric name (colons allowed) or a label
// name in Prometheus' classic character set.
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || metric && c == ':'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func fieldError(field string, value any, problem string) error {
	return fmt.Errorf("windhover/metrics: Config.%s = %v %s", field, value, problem)
}
