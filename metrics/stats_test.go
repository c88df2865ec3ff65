package metrics

import (
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// limitsSeries returns the series of a Limits collector: refused counts by
// reason name (zero for the others) and the gauges.
func limitsSeries(refused map[string]int, rejectedConns, queued, active, upgraded, accepted int) string {
	var b strings.Builder
	for r := range limits.Reason(limits.NumReasons) {
		if r.Policy() != "limits" || r.Status() == 0 {
			continue // a refused connection counts in windhover_rejected_connections_total alone
		}
		name := r.String()
		fmt.Fprintf(&b, "windhover_rejections_total{%s,reason=%q} %d\n", limitsLabels, name, refused[name])
	}
	fmt.Fprintf(&b, "windhover_rejected_connections_total{%s} %d\n", limitsLabels, rejectedConns)
	for r := range limits.Reason(limits.NumReasons) {
		if r.Policy() == "limits" && r.Status() == 0 {
			name := r.String()
			fmt.Fprintf(&b, "windhover_limits_rejected_connections_total{%s,reason=%q} %d\n", limitsLabels, name, refused[name])
		}
	}
	fmt.Fprintf(&b, "windhover_queued_connections{%s} %d\n", limitsLabels, queued)
	fmt.Fprintf(&b, "windhover_limits_active_connections{%s} %d\n", limitsLabels, active)
	fmt.Fprintf(&b, "windhover_limits_upgraded_connections{%s} %d\n", limitsLabels, upgraded)
	fmt.Fprintf(&b, "windhover_limits_accepted_connections_total{%s} %d\n", limitsLabels, accepted)
	fmt.Fprintf(&b, "windhover_limits_tracked_clients{%s} %d\n", limitsLabels, 0)
	fmt.Fprintf(&b, "windhover_limits_retired_connections_total{%s,reason=\"max_connection_age\"} %d\n", limitsLabels, 0)
	fmt.Fprintf(&b, "windhover_limits_retired_connections_total{%s,reason=\"max_requests_per_connection\"} %d\n", limitsLabels, 0)
	return b.String()
}

const limitsLabels = `policy="limits",policy_name="default"`

var limitsNames = []string{
	"windhover_rejections_total",
	"windhover_rejected_connections_total",
	"windhover_queued_connections",
	"windhover_limits_active_connections",
	"windhover_limits_upgraded_connections",
	"windhover_limits_accepted_connections_total",
	"windhover_limits_rejected_connections_total",
	"windhover_limits_tracked_clients",
	"windhover_limits_retired_connections_total",
}

func TestLimitsCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	lim, err := limits.New(limits.Config{MaxConcurrentConnections: 1, MaxRequestBodySize: 10})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Limits(lim, "")))
	expect(t, reg, limitsSeries(nil, 0, 0, 0, 0, 0), limitsNames...)
	lint(t, m.Limits(lim, ""))

	s := testserver.Start(t, lim.Handler(routes()), testserver.H1, func(ts *httptest.Server) {
		ts.Listener = lim.Listener(ts.Listener)
	})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789")
	res, _ := c.Response(t)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.True(t, c.ClosedByPeer(t))
	testserver.Eventually(t, func() bool { return lim.Stats().ActiveConnections == 0 }, "slot released")
	held := testserver.Dial(t, s.Addr())
	held.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
	held.Response(t)
	refused := testserver.Dial(t, s.Addr())
	require.True(t, refused.ClosedByPeer(t))
	expect(t, reg, limitsSeries(map[string]int{"body_too_large": 1, "connection_limit": 1}, 1, 0, 1, 0, 2), limitsNames...)
}

func TestTimeoutsCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	pol, err := timeouts.New(timeouts.Config{
		MinRequestBodyDataRate: timeouts.Rate{BytesPerSecond: 20_000, GracePeriod: 300 * time.Millisecond},
	})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Timeouts(pol, "")))
	names := []string{"windhover_min_data_rate_violations_total", "windhover_timeouts_requests_total", "windhover_timeouts_active_requests"}
	series := func(body, requests int) string {
		const labels = `policy="timeouts",policy_name="default"`
		return fmt.Sprintf("windhover_min_data_rate_violations_total{direction=\"request_body\",%[1]s} %[2]d\n"+
			"windhover_min_data_rate_violations_total{direction=\"response\",%[1]s} 0\n"+
			"windhover_timeouts_requests_total{%[1]s} %[3]d\nwindhover_timeouts_active_requests{%[1]s} 0\n", labels, body, requests)
	}
	expect(t, reg, series(0, 0), names...)
	lint(t, m.Timeouts(pol, ""))

	s := testserver.Start(t, pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			io.WriteString(w, "ok")
		}
	})), testserver.H1)
	status, _ := s.Get(t, "/", nil)
	require.Equal(t, 200, status)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
	res, _ := c.Response(t)
	require.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	expect(t, reg, series(1, 2), names...)
}

func TestTimeoutsCollectorTimers(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	pol, err := timeouts.New(timeouts.Config{KeepAliveTimeout: 300 * time.Millisecond, RequestHeadersTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Timeouts(pol, "")))
	lint(t, m.Timeouts(pol, ""))
	rejections := func(reason string) float64 {
		return value(t, reg, "windhover_rejections_total", "policy", "timeouts", "reason", reason)
	}
	assert.Zero(t, rejections("keep_alive_timeout"))

	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	timed := testserver.Start(t, h, testserver.H1, func(ts *httptest.Server) {
		require.NoError(t, pol.Apply(ts.Config))
		ts.Listener = pol.Listener(ts.Listener)
	})
	idle := testserver.Dial(t, timed.Addr())
	stalled := testserver.Dial(t, timed.Addr())
	stalled.Send(t, "GET / HT")
	require.True(t, idle.ClosedByPeer(t))
	require.True(t, stalled.ClosedByPeer(t))
	untimed := testserver.Start(t, h, testserver.H1, func(ts *httptest.Server) { require.NoError(t, pol.Apply(ts.Config)) })
	status, _ := untimed.Get(t, "/", nil)
	require.Equal(t, 200, status)

	assert.Equal(t, 1.0, rejections("keep_alive_timeout"))
	assert.Equal(t, 1.0, rejections("request_headers_timeout"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_timeouts_untimed_requests_total"))
}

// TestStatsCollectorPattern registers two policies' collectors on one
// registry, as the pattern for every policy has them: their series of
// windhover_rejections_total meet in one family.
func TestStatsCollectorPattern(t *testing.T) {
	m, _ := newMetrics(t, Config{ConstLabels: prometheus.Labels{"server": "a"}})
	lim := limits.MaxRequestBodySize(10)
	type fakeStats struct{ Refused, Checked uint64 }
	fake := newStatsCollector(m, "fake", "", nil, func() fakeStats { return fakeStats{Refused: 3, Checked: 7} })
	fake.rejections("no_reason", func(s *fakeStats) uint64 { return s.Refused })
	fake.counter("windhover_fake_checked_total", "Requests the fake policy checked.", func(s *fakeStats) uint64 { return s.Checked })
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Limits(lim, "")))
	require.NoError(t, reg.Register(fake))
	lint(t, fake)
	assert.Equal(t, 3.0, value(t, reg, "windhover_rejections_total", "policy", "fake", "reason", "no_reason", "server", "a"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_rejections_total", "policy", "limits", "reason", "body_too_large", "server", "a"))
	assert.Equal(t, 7.0, value(t, reg, "windhover_fake_checked_total", "server", "a"))
}

func TestRegister(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	var already prometheus.AlreadyRegisteredError
	require.ErrorAs(t, reg.Register(m), &already)
	other, err := New(testConfig)
	require.NoError(t, err)
	require.Error(t, reg.Register(other), "same names")

	lim1, lim2 := limits.MaxRequestBodySize(1), limits.MaxRequestBodySize(2)
	require.NoError(t, reg.Register(m.Limits(lim1, "")))
	require.ErrorAs(t, reg.Register(m.Limits(lim1, "")), &already, "the same Limiter again: the registry sees the same series")
	err = reg.Register(m.Limits(lim2, ""))
	require.ErrorContains(t, err, `a second limits policy named "default"`, "a second Limiter needs a name of its own")
	require.ErrorContains(t, err, "give each its own name")
	require.NoError(t, reg.Register(m.Limits(lim2, "b")))
	require.NoError(t, reg.Register(m.Timeouts(timeouts.MinDataRates(timeouts.Rate{}, timeouts.Rate{}), "")))
	_, err = reg.Gather()
	require.NoError(t, err)

	assert.Equal(t, 0.0, value(t, reg, "windhover_rejections_total", "policy_name", "b", "reason", "body_too_large"))

	// Two Limiters, each with a name and, by a wrapping registerer, a label
	// of its own.
	reg = prometheus.NewPedanticRegistry()
	require.NoError(t, prometheus.WrapRegistererWith(prometheus.Labels{"server": "a"}, reg).Register(m.Limits(lim1, "")))
	require.NoError(t, prometheus.WrapRegistererWith(prometheus.Labels{"server": "b"}, reg).Register(m.Limits(lim2, "b")))
	assert.Equal(t, 0.0, value(t, reg, "windhover_rejections_total", "server", "b", "reason", "body_too_large"))
}

// TestNamespaceAndConstLabels checks that every series of every collector
// carries the namespace and the constant labels.
func TestNamespaceAndConstLabels(t *testing.T) {
	m, reg := newMetrics(t, Config{Namespace: "shop", ConstLabels: prometheus.Labels{"server": "a", "zone": ""}, RequestSizes: true})
	lim, err := limits.New(limits.Config{})
	require.NoError(t, err)
	pol, err := timeouts.New(timeouts.Config{})
	require.NoError(t, err)
	require.NoError(t, reg.Register(m.Limits(lim, "")))
	require.NoError(t, reg.Register(m.Timeouts(pol, "")))
	s, _ := tlsServer(t, m, &tls.Config{}, func(ts *httptest.Server) {
		ts.Config.Handler = m.Handler(lim.Handler(pol.Handler(m.Route(routes()))))
	})
	script(t, s)
	s.Transport.CloseIdleConnections()
	eventually(t, reg, 0, "shop_windhover_active_connections")

	assert.Equal(t, []string{
		"shop_http_server_active_requests",
		"shop_http_server_request_body_size_bytes",
		"shop_http_server_request_duration_seconds",
		"shop_http_server_response_body_size_bytes",
		"shop_windhover_active_connections",
		"shop_windhover_active_tls_handshakes",
		"shop_windhover_connection_duration_seconds",
		"shop_windhover_limits_accepted_connections_total",
		"shop_windhover_limits_active_connections",
		"shop_windhover_limits_rejected_connections_total",
		"shop_windhover_limits_retired_connections_total",
		"shop_windhover_limits_tracked_clients",
		"shop_windhover_limits_upgraded_connections",
		"shop_windhover_min_data_rate_violations_total",
		"shop_windhover_queued_connections",
		"shop_windhover_rejected_connections_total",
		"shop_windhover_rejections_total",
		"shop_windhover_timeouts_active_requests",
		"shop_windhover_timeouts_requests_total",
		"shop_windhover_timeouts_untimed_requests_total",
		"shop_windhover_tls_handshake_duration_seconds",
	}, names(t, reg))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		assert.True(t, strings.HasPrefix(mf.GetName(), "shop_"), mf.GetName())
		for _, metric := range mf.Metric {
			labels := map[string]string{}
			for _, l := range metric.Label {
				labels[l.GetName()] = l.GetValue()
			}
			assert.Equal(t, "a", labels["server"], mf.GetName())
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Namespace: "1shop"}, `Config.Namespace = "1shop" is not a valid metric name`},
		{Config{Namespace: "shop-x"}, "Config.Namespace"},
		{Config{ConstLabels: prometheus.Labels{"bad-name": "x"}}, `Config.ConstLabels = "bad-name" is not a valid label name`},
		{Config{ConstLabels: prometheus.Labels{"__name": "x"}}, "Config.ConstLabels"},
		{Config{ConstLabels: prometheus.Labels{"shop:x": "x"}}, "Config.ConstLabels"},
		{Config{ConstLabels: prometheus.Labels{"policy": "x"}}, `Config.ConstLabels = "policy" is a label the collectors set themselves`},
		{Config{ConstLabels: prometheus.Labels{"http_route": "x"}}, "Config.ConstLabels"},
		{Config{RequestDurationBuckets: []float64{1, 1}}, "Config.RequestDurationBuckets = [1 1] must be strictly increasing"},
		{Config{SizeBuckets: []float64{2, 1}}, "Config.SizeBuckets"},
		{Config{ConnectionDurationBuckets: []float64{1, math.NaN()}}, "Config.ConnectionDurationBuckets = [1 NaN] holds NaN"},
		{Config{TLSHandshakeDurationBuckets: []float64{3, 2, 1}}, "Config.TLSHandshakeDurationBuckets"},
	} {
		_, err := New(tc.cfg)
		require.ErrorContains(t, err, "windhover/metrics: "+strings.TrimPrefix(tc.want, "windhover/metrics: "))
	}
	_, err := New(Config{Namespace: "shop:v2", RequestDurationBuckets: []float64{1, math.Inf(1)}})
	assert.NoError(t, err, "colons in a namespace and a +Inf bucket are fine")
}
