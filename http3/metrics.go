package http3

import (
	"crypto/tls"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover/metrics"
)

// quicMetrics records the QUIC connections and handshakes in the families
// windhover's metrics package gives TCP's, after Kestrel's instruments,
// with network_transport="udp".
type quicMetrics struct {
	namespace string
	labels    prometheus.Labels

	active     [2]atomic.Int64 // by network type: ipv4, ipv6
	handshakes [2]atomic.Int64

	handshakeOK   *prometheus.HistogramVec
	handshakeFail *prometheus.HistogramVec
	connOK        *prometheus.HistogramVec
	connFail      *prometheus.HistogramVec

	activeDesc, handshakesDesc *prometheus.Desc
}

// The families' names and help, as the metrics package has them: a family
// that two collectors feed must agree on both.
const (
	nameActiveConns       = "windhover_active_connections"
	helpActiveConns       = "Number of connections that are currently active on the server."
	nameConnDuration      = "windhover_connection_duration_seconds"
	helpConnDuration      = "The duration of connections on the server."
	nameHandshakeDuration = "windhover_tls_handshake_duration_seconds"
	helpHandshakeDuration = "The duration of TLS handshakes on the server."
	nameActiveHandshakes  = "windhover_active_tls_handshakes"
	helpActiveHandshakes  = "Number of TLS handshakes that are currently in progress on the server."
)

const (
	udp             = "udp"
	handshakeFailed = "handshake_failed"
	// Kestrel's error.type for a connection whose handshake failed.
	tlsHandshakeFailed = "tls_handshake_failed"
)

var networkTypes = [2]string{"ipv4", "ipv6"}

func newQUICMetrics(cfg metrics.Config) *quicMetrics {
	m := &quicMetrics{namespace: cfg.Namespace, labels: cfg.ConstLabels}
	conn := cfg.ConnectionDurationBuckets
	if len(conn) == 0 {
		conn = metrics.DefaultConnectionDurationBuckets
	}
	hs := cfg.TLSHandshakeDurationBuckets
	if len(hs) == 0 {
		hs = metrics.DefaultRequestDurationBuckets
	}
	m.handshakeOK = m.histogram(nameHandshakeDuration, helpHandshakeDuration, hs, "network_transport", "network_type", "tls_protocol_version")
	m.handshakeFail = m.histogram(nameHandshakeDuration, helpHandshakeDuration, hs, "network_transport", "network_type", "error_type")
	m.connOK = m.histogram(nameConnDuration, helpConnDuration, conn,
		"network_transport", "network_type", "network_protocol_name", "network_protocol_version", "tls_protocol_version")
	m.connFail = m.histogram(nameConnDuration, helpConnDuration, conn, "network_transport", "network_type", "error_type")
	m.activeDesc = prometheus.NewDesc(m.name(nameActiveConns), helpActiveConns, []string{"network_transport", "network_type"}, m.labels)
	m.handshakesDesc = prometheus.NewDesc(m.name(nameActiveHandshakes), helpActiveHandshakes, []string{"network_transport", "network_type"}, m.labels)
	return m
}

func (m *quicMetrics) name(n string) string { return prometheus.BuildFQName(m.namespace, "", n) }

func (m *quicMetrics) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: m.name(name), Help: help, Buckets: buckets, ConstLabels: m.labels,
	}, labels)
}

func netType(c *conn) int {
	if c.ipv6 {
		return 1
	}
	return 0
}

func (m *quicMetrics) connOpened(c *conn) {
	m.active[netType(c)].Add(1)
	m.handshakes[netType(c)].Add(1)
}

func (m *quicMetrics) handshakeDone(c *conn, ok bool, d time.Duration) {
	nt := netType(c)
	m.handshakes[nt].Add(-1)
	if ok {
		m.handshakeOK.WithLabelValues(udp, networkTypes[nt], tlsVersion(c.tlsVersion)).Observe(d.Seconds())
		return
	}
	m.handshakeFail.WithLabelValues(udp, networkTypes[nt], handshakeFailed).Observe(d.Seconds())
}

func (m *quicMetrics) connClosed(c *conn, d time.Duration) {
	nt := netType(c)
	m.active[nt].Add(-1)
	if c.handshaken {
		m.connOK.WithLabelValues(udp, networkTypes[nt], "http", "3", tlsVersion(c.tlsVersion)).Observe(d.Seconds())
		return
	}
	m.connFail.WithLabelValues(udp, networkTypes[nt], tlsHandshakeFailed).Observe(d.Seconds())
}

// tlsVersion is OpenTelemetry's tls.protocol.version: QUIC is TLS 1.3.
func tlsVersion(v uint16) string {
	if v == tls.VersionTLS13 {
		return "1.3"
	}
	return ""
}

// collector is what [Server.Collector] returns.
type collector struct {
	m                        *quicMetrics
	h                        *Server
	accepted, retries, fails *prometheus.Desc
}

// Collector returns a prometheus.Collector for the HTTP/3 endpoint, read at
// each scrape, with the metrics package's namespace and constant labels
// (those of the hardened server's windhover.Config):
//
//   - Kestrel's connection instruments for QUIC, in the families the
//     metrics package gives TCP's, told apart by network_transport="udp":
//     windhover_active_connections, windhover_connection_duration_seconds
//     (network_protocol_version "3"; error_type "tls_handshake_failed" for a
//     connection whose handshake failed), windhover_active_tls_handshakes
//     and windhover_tls_handshake_duration_seconds (error_type
//     "handshake_failed");
//   - windhover_http3_accepted_connections_total (QUIC connections given
//     the slots of the connection limits; those refused are the limits
//     policy's, in its windhover_rejected_connections_total with the TCP
//     connections refused),
//     windhover_http3_retries_total (clients made to prove their address)
//     and windhover_http3_failed_handshakes_total.
//
// The counters carry policy="http3" and policy_name=name (or
// metrics.DefaultPolicyName), as every policy collector does. The
// collector is unchecked (it describes nothing), since the families it
// shares are described by the metrics package's collector: register both
// on one registry, and this one once.
func (h *Server) Collector(name string) prometheus.Collector {
	if name == "" {
		name = metrics.DefaultPolicyName
	}
	m := h.met
	c := prometheus.Labels{"policy": "http3", "policy_name": name}
	for k, v := range m.labels {
		c[k] = v
	}
	desc := func(n, help string) *prometheus.Desc { return prometheus.NewDesc(m.name(n), help, nil, c) }
	return &collector{
		m: m, h: h,
		accepted: desc("windhover_http3_accepted_connections_total", "QUIC connection attempts given a slot of the connection limit."),
		retries:  desc("windhover_http3_retries_total", "QUIC clients sent a Retry to prove their address, as too many handshakes were in progress."),
		fails:    desc("windhover_http3_failed_handshakes_total", "QUIC connections closed before their handshake completed."),
	}
}

// Describe describes nothing: the collector is unchecked.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends the current values.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m, st := c.m, c.h.Stats()
	for i, nt := range networkTypes {
		ch <- prometheus.MustNewConstMetric(m.activeDesc, prometheus.GaugeValue, float64(m.active[i].Load()), udp, nt)
		ch <- prometheus.MustNewConstMetric(m.handshakesDesc, prometheus.GaugeValue, float64(m.handshakes[i].Load()), udp, nt)
	}
	m.handshakeOK.Collect(ch)
	m.handshakeFail.Collect(ch)
	m.connOK.Collect(ch)
	m.connFail.Collect(ch)
	ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(st.Accepted))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(st.Retries))
	ch <- prometheus.MustNewConstMetric(c.fails, prometheus.CounterValue, float64(st.HandshakesFailed))
}
