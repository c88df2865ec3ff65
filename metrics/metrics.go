package metrics

import (
	"hash/maphash"
	"maps"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/internal/stripe"
)

// Metrics measures a net/http server's requests ([Metrics.Handler]),
// connections ([Metrics.Apply]) and TLS handshakes ([Metrics.TLSConfig]),
// and builds collectors for every policy's counters ([Metrics.Limits],
// [Metrics.Timeouts] and the others).
//
// A Metrics is a prometheus.Collector of its own metrics: register it with
// reg.Register(m), which returns an error (prometheus.AlreadyRegisteredError
// among others) rather than panicking when a metric of the same name is
// already there. A series appears once it has something to say. A Metrics is
// safe for concurrent use; one Metrics may serve several servers.
type Metrics struct {
	s settings

	requestDuration *prometheus.HistogramVec // with Config.Exemplar, whose exemplars it keeps
	durations       *stripedVec              // without: one or the other is nil
	requestSize     *prometheus.HistogramVec // nil without RequestSizes
	responseSize    *prometheus.HistogramVec // nil without RequestSizes
	activeReqs      *prometheus.GaugeVec

	activeConns       *prometheus.GaugeVec
	connDuration      *prometheus.HistogramVec
	upgradedConns     *prometheus.GaugeVec
	handshakeDuration *prometheus.HistogramVec
	activeHandshakes  *prometheus.GaugeVec

	collectors []prometheus.Collector // sparse vectors

	// policies maps a policy kind and name to the policy whose collector m
	// built under them, so that a second policy of one kind and name gets
	// an error that says which name to give.
	policiesMu sync.Mutex
	policies   map[string]any // kind and name -> policy
	names      map[any]string // policy -> name

	// active holds the series of http_server_active_requests by method and
	// scheme, created on first use.
	active [numMethods][len(schemes)]atomic.Pointer[activeSeries]

	// cache maps a label tuple to its series. Lookups read the current map
	// without a lock; a new tuple copies it under mu. The number of tuples is
	// bounded (known methods, status codes, a ServeMux's patterns), so
	// copies stop early in a server's life.
	cache   atomic.Pointer[map[key]*series]
	cacheMu sync.Mutex

	// recent holds the series the requests in each processor's cell
	// (stripe.Here) last used, so that a server's usual run of one route
	// and status finds its series by one comparison instead of hashing the
	// label tuple. Each sits on a cache line of its own.
	recent [stripe.Cells]struct {
		s atomic.Pointer[series]
		_ [stripe.CellSize - 8]byte
	}

	conns       connTable // for the ConnState hook
	tlsMeasured atomic.Bool
}

// key is a label tuple of the request histograms, in the form a request
// gives it.
type key struct {
	pattern string // the ServeMux pattern, before routeLabel, or the route if raw
	status  int
	raw     bool // pattern is a route from RouteFunc
	method  uint8
	scheme  uint8
	proto   uint8
}

// series holds the observers of one label tuple.
type series struct {
	k            key                 // its label tuple, as a request gives it
	striped      *stripedHistogram   // the duration, without Config.Exemplar
	duration     prometheus.Observer // the duration, with Config.Exemplar
	requestSize  prometheus.Observer // nil without RequestSizes
	responseSize prometheus.Observer
}

// Metric names, before the namespace.
const (
	nameRequestDuration   = "http_server_request_duration_seconds"
	nameActiveRequests    = "http_server_active_requests"
	nameRequestSize       = "http_server_request_body_size_bytes"
	nameResponseSize      = "http_server_response_body_size_bytes"
	nameActiveConns       = "windhover_active_connections"
	nameConnDuration      = "windhover_connection_duration_seconds"
	nameUpgradedConns     = "windhover_upgraded_connections"
	nameHandshakeDuration = "windhover_tls_handshake_duration_seconds"
	nameActiveHandshakes  = "windhover_active_tls_handshakes"
)

// New returns a Metrics for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Metrics, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	m := &Metrics{s: s}
	m.conns.seed = maphash.MakeSeed()
	requestLabels := []string{labelMethod, labelStatus, labelRoute, labelScheme, labelProtocolName, labelProtocol, labelErrorType}
	// OpenTelemetry's descriptions, which its Prometheus exporter uses as
	// the help: a family of the same name from both stays consistent.
	if s.exemplar != nil {
		m.requestDuration = m.histogram(nameRequestDuration, "Duration of HTTP server requests.", s.duration, requestLabels...)
	} else {
		m.durations = m.stripedHistogram(nameRequestDuration, "Duration of HTTP server requests.", s.duration, requestLabels...)
	}
	m.activeReqs = m.gauge(nameActiveRequests, "Number of active HTTP server requests.", labelMethod, labelScheme)
	if s.requestSizes {
		m.requestSize = m.histogram(nameRequestSize, "Size of HTTP server request bodies.", s.size, requestLabels...)
		m.responseSize = m.histogram(nameResponseSize, "Size of HTTP server response bodies.", s.size, requestLabels...)
	}
	m.activeConns = m.gauge(nameActiveConns, "Number of connections that are currently active on the server.", labelTransport, labelNetworkType)
	m.connDuration = m.histogram(nameConnDuration, "The duration of connections on the server.", s.connection,
		labelTransport, labelNetworkType, labelProtocolName, labelProtocol, labelTLSVersion, labelState, labelErrorType)
	m.upgradedConns = m.gauge(nameUpgradedConns, "Number of connections that are currently upgraded (WebSockets).", labelTransport, labelNetworkType)
	m.handshakeDuration = m.histogram(nameHandshakeDuration, "The duration of TLS handshakes on the server.", s.handshake,
		labelTransport, labelNetworkType, labelTLSVersion, labelErrorType)
	m.activeHandshakes = m.gauge(nameActiveHandshakes, "Number of TLS handshakes that are currently in progress on the server.", labelTransport, labelNetworkType)
	m.cache.Store(&map[key]*series{})
	return m, nil
}

func (m *Metrics) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:   m.s.namespace,
		Name:        name,
		Help:        help,
		ConstLabels: m.s.constLabels,
		Buckets:     buckets,
	}, labels)
	m.collectors = append(m.collectors, newSparse(h, prometheus.BuildFQName(m.s.namespace, "", name), help, labels, m.s.constLabels))
	return h
}

// stripedHistogram is histogram's, for a family whose series every request
// observes (see stripedVec).
func (m *Metrics) stripedHistogram(name, help string, buckets []float64, labels ...string) *stripedVec {
	fqName := prometheus.BuildFQName(m.s.namespace, "", name)
	if n := len(buckets); n > 0 && math.IsInf(buckets[n-1], +1) {
		buckets = buckets[:n-1] // as prometheus.NewHistogram does
	}
	v := newStripedVec(prometheus.NewDesc(fqName, help, labels, m.s.constLabels), buckets)
	m.collectors = append(m.collectors, newSparse(v, fqName, help, labels, m.s.constLabels))
	return v
}

func (m *Metrics) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace:   m.s.namespace,
		Name:        name,
		Help:        help,
		ConstLabels: m.s.constLabels,
	}, labels)
	m.collectors = append(m.collectors, newSparse(g, prometheus.BuildFQName(m.s.namespace, "", name), help, labels, m.s.constLabels))
	return g
}

// Describe sends the descriptions of m's metrics, for prometheus.Registerer.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Collect sends m's series, for prometheus.Registerer.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for i := range m.active {
		for j := range m.active[i] {
			if a := m.active[i][j].Load(); a != nil {
				a.g.Set(float64(a.n.Load()))
			}
		}
	}
	for _, c := range m.collectors {
		c.Collect(ch)
	}
}

// activeSeries is a series of http_server_active_requests. Requests count
// themselves in n, whose cells (see internal/stripe) keep requests on
// different cores from contending for one cache line as a gauge's single
// value would; each scrape sets the gauge to n's sum.
type activeSeries struct {
	n stripe.Counter
	g prometheus.Gauge
}

// activeRequests returns the series of http_server_active_requests for a
// method and scheme.
func (m *Metrics) activeRequests(method, scheme uint8) *activeSeries {
	p := &m.active[method][scheme]
	if a := p.Load(); a != nil {
		return a
	}
	// Racing callers get the same child from the vector, and the first
	// series stored.
	a := &activeSeries{g: m.activeReqs.WithLabelValues(methods[method], schemes[scheme])}
	if !p.CompareAndSwap(nil, a) {
		a = p.Load()
	}
	return a
}

// seriesFor returns the observers for the label tuple k: the ones last used
// in cell (stripe.Here) if they are k's, and otherwise series'.
func (m *Metrics) seriesFor(cell int, k key) *series {
	c := &m.recent[uint(cell)%stripe.Cells]
	if s := c.s.Load(); s != nil && s.k == k {
		return s
	}
	s := m.series(k)
	c.s.Store(s)
	return s
}

// series returns the observers for k, creating them the first time.
func (m *Metrics) series(k key) *series {
	if s, ok := (*m.cache.Load())[k]; ok {
		return s
	}
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	old := *m.cache.Load()
	if s, ok := old[k]; ok {
		return s
	}
	route := k.pattern
	if !k.raw {
		route = routeLabel(route)
	}
	labels := []string{methods[k.method], statusLabel(k.status), route, schemes[k.scheme], "http", protocols[k.proto], errorType(k.status)}
	s := &series{k: k}
	if m.durations != nil {
		s.striped = m.durations.with(labels)
	} else {
		s.duration = m.requestDuration.WithLabelValues(labels...)
	}
	if m.requestSize != nil {
		s.requestSize = m.requestSize.WithLabelValues(labels...)
		s.responseSize = m.responseSize.WithLabelValues(labels...)
	}
	next := make(map[key]*series, len(old)+1)
	maps.Copy(next, old)
	next[k] = s
	m.cache.Store(&next)
	return s
}
