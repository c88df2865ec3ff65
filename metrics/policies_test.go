package metrics

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/unixsock"
)

func TestHostFilterCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	f := hostfilter.Allow("example.com")
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.HostFilter(f, "")))
	lint(t, m.HostFilter(f, ""))

	s := testserver.Start(t, f.Handler(routes()), testserver.H1)
	for _, host := range []string{"example.com", "evil.example", "x..example.com", "evil.example"} {
		c := testserver.Dial(t, s.Addr())
		c.Send(t, "GET /items/1 HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		c.Response(t)
	}
	for i := range hostfilter.NumReasons {
		r := hostfilter.Reason(i)
		want := map[hostfilter.Reason]float64{hostfilter.ReasonHostNotAllowed: 2, hostfilter.ReasonMalformedHost: 1}[r]
		assert.Equal(t, want, value(t, reg, "windhover_rejections_total", "policy", "hostfilter", "reason", r.String()), r.String())
	}
	assert.Equal(t, 1.0, value(t, reg, "windhover_hostfilter_allowed_requests_total"))
}

func TestCertAuthCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	ca := testcert.NewCA(t, "metrics CA")
	p, err := certauth.New(certauth.Config{Mode: certauth.AllowCertificate, ClientCAs: ca.Pool()})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.CertAuth(p, "")))
	lint(t, m.CertAuth(p, ""))

	s := testserver.Start(t, p.Handler(p.Require(routes())), testserver.H2, func(ts *httptest.Server) {
		cfg, err := p.TLSConfig(&tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS()}})
		require.NoError(t, err)
		ts.TLS = cfg
	})
	get := func(certs ...tls.Certificate) int {
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs},
		}}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest("GET", s.URL+"/items/1", nil)
		req.Header.Set("X-Client-Cert", "forged")
		res, err := c.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, 200, get(ca.Client(t, "alice").TLS()))
	assert.Equal(t, 403, get())

	assert.Equal(t, 1.0, value(t, reg, "windhover_certauth_accepted_requests_total"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_rejections_total", "policy", "certauth", "reason", certauth.ReasonNoCertificate.String()))
	assert.Equal(t, 2.0, value(t, reg, "windhover_certauth_forwarded_total", "outcome", "ignored"), "the forged header was stripped twice")
	assert.Equal(t, 0.0, value(t, reg, "windhover_certauth_forwarded_total", "outcome", "accepted"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_certauth_handshakes_total", "outcome", "accepted"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_certauth_handshakes_total", "outcome", "failed"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_certauth_cache_entries"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_certauth_crl_reloads_total", "outcome", "failed"))
}

func TestGracefulCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	g, err := graceful.New(graceful.Config{DisableSignals: true, ShutdownTimeout: time.Second})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Graceful(g, "")))
	lint(t, m.Graceful(g, ""))
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_state", "state", "new"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	release := make(chan struct{})
	srv := &http.Server{Handler: g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))}
	g.Add(srv, ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			res.Body.Close()
		}
	}()
	testserver.Eventually(t, func() bool { return g.Stats().Requests == 1 }, "the request is in flight")
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_state", "state", "serving"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_requests_in_flight"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_connections", "kind", "open"))

	cancel()
	testserver.Eventually(t, func() bool { return g.Stats().State == graceful.StateDraining }, "draining")
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_state", "state", "draining"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_graceful_state", "state", "serving"))
	close(release)
	<-answered
	require.NoError(t, <-done)
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_state", "state", "stopped"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_graceful_requests_served_total"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_graceful_forced_closes_total", "kind", "open"))
}

func TestConcurrencyAndRateCollectors(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	cl, err := limits.NewConcurrencyLimiter(limits.ConcurrencyConfig{MaxConcurrentRequests: 1})
	require.NoError(t, err)
	rl := limits.MaxRequestRate(1, 1)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Concurrency(cl, "")))
	require.NoError(t, reg.Register(m.Rate(rl, "")))
	require.NoError(t, reg.Register(m.Limits(limits.MaxRequestBodySize(10), "")), "the three policies' series do not clash")
	lint(t, m.Concurrency(cl, ""))
	lint(t, m.Rate(rl, ""))

	release := make(chan struct{})
	entered := make(chan struct{})
	busy := cl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	s := testserver.Start(t, rl.Handler(busy), testserver.H1)
	other := testserver.Start(t, cl.Handler(routes()), testserver.H1)
	go func() {
		code, _ := s.Get(t, "/", nil)
		assert.Equal(t, 200, code)
	}()
	<-entered
	assert.Equal(t, 1.0, value(t, reg, "windhover_concurrency_active_requests"))
	code, _ := other.Get(t, "/items/1", nil)
	assert.Equal(t, 503, code, "the one slot is taken and there is no queue")
	code, _ = s.Get(t, "/", nil)
	assert.Equal(t, 429, code, "the one token is spent")
	close(release)

	assert.Equal(t, 1.0, value(t, reg, "windhover_rejections_total", "policy", "concurrency", "reason", "concurrency_limit"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_rejections_total", "policy", "concurrency", "reason", "request_queue_full"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_rejections_total", "policy", "rate", "reason", "rate_limited"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_queued_requests"))
	assert.Equal(t, 1.0, value(t, reg, "windhover_rate_keys"))
	assert.Equal(t, 0.0, value(t, reg, "windhover_rate_evictions_total"))
}

func TestUnixSocketCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	path := filepath.Join(t.TempDir(), "m.sock")
	ln, err := unixsock.Listen(path, unixsock.Config{})
	require.NoError(t, err)
	defer ln.Close()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.UnixSocket(ln)))
	lint(t, m.UnixSocket(ln))
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()
	testserver.Eventually(t, func() bool { return ln.Stats().Accepted == 1 }, "accepted")
	assert.Equal(t, 1.0, value(t, reg, "windhover_unixsock_accepted_connections_total", "policy_name", path))
	assert.Equal(t, 0.0, value(t, reg, "windhover_unixsock_stale_removed", "policy_name", path))
}

func TestPeerFilterCollector(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	f, err := unixsock.NewPeerFilter(unixsock.PeerConfig{UIDs: []int{os.Geteuid() + 1}})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.PeerFilter(f, "")))
	lint(t, m.PeerFilter(f, ""))

	path := filepath.Join(t.TempDir(), "p.sock")
	ln, err := unixsock.Listen(path, unixsock.Config{})
	require.NoError(t, err)
	srv := &http.Server{Handler: f.Handler(routes()), ConnContext: unixsock.ConnContext(nil)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	defer c.CloseIdleConnections()
	res, err := c.Get("http://x/items/1")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 403, res.StatusCode, "our own uid is not the one admitted")
	assert.Equal(t, 1.0, value(t, reg, "windhover_rejections_total", "policy", "unixsock", "reason", unixsock.ReasonPeerNotAllowed.String()))
	assert.Equal(t, 0.0, value(t, reg, "windhover_unixsock_admitted_requests_total"))
}
