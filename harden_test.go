package windhover_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// refusals records what Config.OnReject is given.
type refusals struct {
	mu  sync.Mutex
	all []windhover.Refusal
}

func (f *refusals) add(_ *http.Request, err error) {
	r, ok := windhover.RefusalOf(err)
	if !ok {
		r = windhover.Refusal{Policy: "unknown", Err: err}
	}
	f.mu.Lock()
	f.all = append(f.all, r)
	f.mu.Unlock()
}

func (f *refusals) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, r := range f.all {
		s = append(s, fmt.Sprintf("%s/%s/%d", r.Policy, r.Reason, r.Status))
	}
	return s
}

// app answers with the length of the body it read.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%s %d", r.Proto, n)
	})
	return mux
}

// hardened starts app hardened with cfg, speaking p, through the Server's
// listener.
func hardened(t *testing.T, cfg windhover.Config, p testserver.Proto, setup ...testserver.Setup) (*testserver.Server, *windhover.Server) {
	t.Helper()
	var s *windhover.Server
	harden := func(ts *httptest.Server) {
		var err error
		s, err = windhover.Harden(ts.Config, cfg)
		require.NoError(t, err)
		ts.Listener = s.Listener(ts.Listener)
	}
	return testserver.Start(t, app(), p, append(setup, harden)...), s
}

func do(t *testing.T, ts *testserver.Server, method, target, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+target, strings.NewReader(body))
	require.NoError(t, err)
	if body == "" {
		req.Body = http.NoBody
	}
	req.Host = host
	return ts.Do(t, req)
}

// TestHardenComposes: one call puts every policy in front of an existing
// handler, over each protocol, and every refusal reaches one callback that
// describes it without a type switch.
func TestHardenComposes(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			var got refusals
			cfg := windhover.Config{
				Limits:       limits.Config{MaxRequestBodySize: 10},
				AllowedHosts: []string{"example.com"},
				RateLimit:    &limits.RateConfig{Rate: rate.Every(time.Hour), Burst: 6},
				ReadyPath:    "/readyz",
				MetricsPath:  "/metrics",
				OnReject:     got.add,
			}
			ts, s := hardened(t, cfg, p)
			reg := prometheus.NewRegistry()
			require.NoError(t, s.Register(reg))

			code, body := do(t, ts, "POST", "/", "example.com", "0123456789")
			assert.Equal(t, 200, code)
			assert.Contains(t, body, " 10")
			code, _ = do(t, ts, "POST", "/", "example.com", "0123456789x")
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
			code, _ = do(t, ts, "GET", "/", "evil.example", "")
			assert.Equal(t, http.StatusBadRequest, code)
			// The probes: readiness for any host, and outside the rate
			// limit; metrics for an allowed host.
			for range 8 {
				code, body = do(t, ts, "GET", "/readyz", "10.1.2.3", "")
				assert.Equal(t, 200, code, body)
			}
			code, body = do(t, ts, "GET", "/metrics", "example.com", "")
			assert.Equal(t, 200, code)
			assert.Contains(t, body, "windhover_rejections_total")
			assert.Contains(t, body, `http_route="/readyz"`, "a probe is measured as its route")
			code, _ = do(t, ts, "GET", "/metrics", "10.1.2.3", "")
			assert.Equal(t, http.StatusBadRequest, code)
			// The rate limit: the two POSTs and four GETs take the bucket's
			// six tokens (the host refusals and the probes never reach it),
			// and one more is refused.
			for range 4 {
				do(t, ts, "GET", "/", "example.com", "")
			}
			code, _ = do(t, ts, "GET", "/", "example.com", "")
			assert.Equal(t, http.StatusTooManyRequests, code)

			want := []string{"limits/body_too_large/413", "hostfilter/host_not_allowed/400", "hostfilter/host_not_allowed/400", "rate/rate_limited/429"}
			testserver.Eventually(t, func() bool { return len(got.list()) == len(want) }, "refusals %v", got.list())
			assert.Equal(t, want, got.list())
			st := s.Stats()
			assert.Equal(t, uint64(1), st.Rate.RejectedTotal())
			assert.Equal(t, uint64(2), st.HostFilter.RejectedTotal())
		})
	}
}

// TestHardenZeroConfig: the zero Config refuses nothing an ordinary client
// does, over every protocol, and keeps the server's handler.
func TestHardenZeroConfig(t *testing.T) {
	for _, p := range append(testserver.All, testserver.H1TLS) {
		t.Run(string(p), func(t *testing.T) {
			ts, s := hardened(t, windhover.Config{}, p)
			for _, host := range []string{"example.com", "127.0.0.1", "[::1]:8080", "localhost:1"} {
				code, body := do(t, ts, "GET", "/", host, "")
				assert.Equal(t, 200, code, host)
				assert.True(t, strings.HasPrefix(body, "HTTP/"), body)
			}
			code, body := do(t, ts, "PUT", "/", "example.com", strings.Repeat("x", 1<<20))
			assert.Equal(t, 200, code)
			assert.Contains(t, body, fmt.Sprint(1<<20))
			assert.Zero(t, s.Stats().Limits.RejectedTotal())
		})
	}
}

// TestHardenKeepsServerTimers: a server's own IdleTimeout and
// ReadHeaderTimeout, shorter than Kestrel's timers, stand on the plaintext
// connections Harden's Listener times, as they would without windhover: a
// new connection that sends nothing, an idle kept-alive one and a head
// stopped mid-line are each cut at the server's bound, not at 130 s or
// 30 s, and counted.
func TestHardenKeepsServerTimers(t *testing.T) {
	const bound = 300 * time.Millisecond
	ts, s := hardened(t, windhover.Config{}, testserver.H1, func(ts *httptest.Server) {
		ts.Config.IdleTimeout, ts.Config.ReadHeaderTimeout = bound, bound
	})
	closes := func(c *testserver.Conn, began time.Time) []byte {
		t.Helper()
		got, err := io.ReadAll(c.R)
		require.NoError(t, err, "closed by the server")
		took := time.Since(began)
		assert.GreaterOrEqual(t, took, bound-50*time.Millisecond)
		assert.Less(t, took, bound+2*time.Second)
		return got
	}
	began := time.Now()
	fresh := testserver.Dial(t, ts.Addr())
	assert.Empty(t, closes(fresh, began), "a new connection that sent nothing")

	idle := testserver.Dial(t, ts.Addr())
	idle.Send(t, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	res, _ := idle.Response(t)
	require.Equal(t, 200, res.StatusCode)
	assert.Empty(t, closes(idle, time.Now()), "an idle kept-alive connection")

	head := testserver.Dial(t, ts.Addr())
	began = time.Now()
	head.Send(t, "GET / HTTP/1.1\r\n")
	assert.Contains(t, string(closes(head, began)), "HTTP/1.1 408 ")

	st := s.Stats().Timeouts
	assert.Equal(t, uint64(2), st.KeepAliveTimeouts)
	assert.Equal(t, uint64(1), st.RequestHeadersTimeouts)
}

// TestHardenRefusesConflicts: every setting the policies would have to
// loosen is named, with both values, and the server is left as it was.
func TestHardenRefusesConflicts(t *testing.T) {
	mux := http.NewServeMux()
	hook := func(net.Conn, http.ConnState) {}
	srv := &http.Server{
		Handler:        mux,
		ReadTimeout:    2 * time.Second,
		MaxHeaderBytes: 10 << 20,
		ConnState:      hook,
	}
	_, err := windhover.Harden(srv, windhover.Config{})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "ReadTimeout")
	assert.Contains(t, msg, "2s")
	assert.Contains(t, msg, "MaxHeaderBytes")
	assert.Contains(t, msg, "10485760")
	assert.True(t, errors.Is(err, limits.ErrServerConflict), "%v", err)
	assert.Same(t, mux, srv.Handler)
	assert.Equal(t, 2*time.Second, srv.ReadTimeout)
	assert.Equal(t, 10<<20, srv.MaxHeaderBytes)
	assert.Nil(t, srv.HTTP2)
	assert.False(t, srv.DisableGeneralOptionsHandler)
	assert.Zero(t, srv.IdleTimeout)
	assert.NotNil(t, srv.ConnState)
	assert.Nil(t, srv.ConnContext)
}

// TestHardenConfigErrors: an invalid value is refused with its field as the
// user wrote it in Config.
func TestHardenConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  windhover.Config
		want string
	}{
		{windhover.Config{Limits: limits.Config{MaxConcurrentConnections: -1}}, "Config.Limits: "},
		{windhover.Config{Timeouts: timeouts.Config{MinRequestBodyDataRate: timeouts.Rate{BytesPerSecond: 0, GracePeriod: -time.Second}}}, "Config.Timeouts: "},
		{windhover.Config{AllowedHosts: []string{"example.com:80"}}, "Config.AllowedHosts: "},
		{windhover.Config{HostFiltering: hostfilter.Config{AllowedHosts: []string{"a"}}}, "Config.HostFiltering.AllowedHosts"},
		{windhover.Config{RateLimit: &limits.RateConfig{}}, "Config.RateLimit: "},
		{windhover.Config{Concurrency: &limits.ConcurrencyConfig{MaxConcurrentRequests: -1}}, "Config.Concurrency: "},
		{windhover.Config{ReadyPath: "readyz"}, "Config.ReadyPath"},
		{windhover.Config{ReadyPath: "/x", MetricsPath: "/x"}, "Config.ReadyPath and Config.MetricsPath"},
		{windhover.Config{ClientCertificates: certauth.Config{Mode: certauth.RequireCertificate}}, "Config.ClientCertificates"},
	} {
		_, err := windhover.Harden(&http.Server{}, c.cfg)
		if assert.Error(t, err, c.want) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
}

// TestHardenKeepsHooks: the server's own hooks and TLS configuration keep
// working under the policies, over TLS with HTTP/2 and HTTP/1.1.
func TestHardenKeepsHooks(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H2, testserver.H1TLS} {
		t.Run(string(p), func(t *testing.T) {
			var states, contexts atomic.Int32
			var sawSNI atomic.Bool
			type key struct{}
			ts, _ := hardened(t, windhover.Config{}, p, func(ts *httptest.Server) {
				ts.Config.ConnState = func(net.Conn, http.ConnState) { states.Add(1) }
				ts.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
					contexts.Add(1)
					return context.WithValue(ctx, key{}, "mine")
				}
				ts.TLS = &tls.Config{GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
					sawSNI.Store(true)
					return nil, nil
				}}
				ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprint(w, r.Context().Value(key{}), " ", r.Proto)
				})
			})
			code, body := ts.Get(t, "/", nil)
			assert.Equal(t, 200, code)
			want := "mine HTTP/1.1"
			if p == testserver.H2 {
				want = "mine HTTP/2.0"
			}
			assert.Equal(t, want, body)
			assert.Positive(t, states.Load())
			assert.Positive(t, contexts.Load())
			assert.True(t, sawSNI.Load())
		})
	}
}

// TestHardenRun: Run serves on the listeners it is given until its context
// ends, then drains: readiness turns 503 during the drain delay, a request
// in flight completes, and Run returns nil.
func TestHardenRun(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "done")
	})
	srv := &http.Server{Handler: mux}
	s, err := windhover.Harden(srv, windhover.Config{
		ReadyPath: "/readyz",
		Shutdown:  gracefulConfig(300 * time.Millisecond),
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, ln) }()

	res, err := http.Get(url + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)

	slow := make(chan string, 1)
	go func() {
		res, err := http.Get(url + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- string(b)
	}()
	testserver.Eventually(t, func() bool { return s.Group().Stats().Requests == 1 }, "the slow request in flight")
	cancel()
	<-s.Group().Stopping()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err = client.Get(url + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	close(release)
	assert.Equal(t, "done", <-slow)
	select {
	case err := <-ran:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// TestRefusalOf: every policy's error is described alike, also wrapped.
func TestRefusalOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want windhover.Refusal
	}{
		{&limits.Error{Reason: limits.ReasonHeadersTooLarge}, windhover.Refusal{Policy: "limits", Reason: "headers_too_large", Status: 431}},
		{&limits.Error{Reason: limits.ReasonRateLimited}, windhover.Refusal{Policy: "rate", Reason: "rate_limited", Status: 429}},
		{&limits.Error{Reason: limits.ReasonConnectionLimit}, windhover.Refusal{Policy: "limits", Reason: "connection_limit", Status: 0}},
		{&hostfilter.Error{Reason: hostfilter.ReasonHostNotAllowed}, windhover.Refusal{Policy: "hostfilter", Reason: "host_not_allowed", Status: 400}},
		{&certauth.Error{Reason: certauth.ReasonMisdirected}, windhover.Refusal{Policy: "certauth", Reason: "misdirected", Status: 421}},
		{fmt.Errorf("wrapped: %w", &certauth.Error{Reason: certauth.ReasonRevoked}), windhover.Refusal{Policy: "certauth", Reason: "revoked", Status: 403}},
	} {
		got, ok := windhover.RefusalOf(c.err)
		require.True(t, ok, "%v", c.err)
		c.want.Err = c.err
		assert.Equal(t, c.want, got)
	}
	_, ok := windhover.RefusalOf(errors.New("other"))
	assert.False(t, ok)
}

// gracefulConfig drains with delay and handles no signal: a test must not
// take the process's.
func gracefulConfig(delay time.Duration) graceful.Config {
	return graceful.Config{DrainDelay: delay, ShutdownTimeout: 5 * time.Second, Signals: []os.Signal{}}
}

// TestHardenRunTLS: Run serves TLS with the server's own certificate, HTTP/2
// by ALPN, and client certificates asked for by host name (SNI).
func TestHardenRunTLS(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cn := "-"
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				cn = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			fmt.Fprint(w, r.Proto, " ", cn)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "api.test").TLS()}},
	}
	s, err := windhover.Harden(srv, windhover.Config{
		ClientCertificates: certauth.Config{
			Hosts:     map[string]certauth.Mode{"api.test": certauth.RequireCertificate},
			ClientCAs: ca.Pool(),
		},
		Shutdown: gracefulConfig(0),
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, ln) }()

	client := func(name string, certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: name, Certificates: certs}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	get := func(c *http.Client, host string) (string, error) {
		req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/", nil)
		req.Host = host
		res, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprint(res.StatusCode, " ", string(b)), nil
	}
	body, err := get(client("localhost"), "localhost")
	require.NoError(t, err)
	assert.Equal(t, "200 HTTP/2.0 -", body)
	body, err = get(client("api.test", ca.Client(t, "alice").TLS()), "api.test")
	require.NoError(t, err)
	assert.Equal(t, "200 HTTP/2.0 alice", body)
	_, err = get(client("api.test"), "api.test")
	assert.Error(t, err, "a handshake without the certificate api.test requires")
	// A request for api.test on a connection whose handshake named another
	// host did not apply api.test's policy: 421.
	body, err = get(client("localhost"), "api.test")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(body, "421 "), body)

	cancel()
	select {
	case err := <-ran:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
