package benchmarks

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
)

// stack is every windhover policy composed as examples/server composes them
// (its toolkit.apply), configured as e2e.sh runs it: Kestrel's defaults,
// plus a connection limit, a per-client rate and a concurrency limit with a
// queue, all generous enough never to refuse the benchmark's load.
type stack struct {
	lim *limits.Limiter
	pol *timeouts.Policy
	m   *metrics.Metrics
	h   http.Handler
}

func newStack(tb testing.TB, app http.Handler) *stack {
	fail := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	s := &stack{}
	var err error
	s.lim, err = limits.New(limits.Config{MaxConcurrentConnections: 10_000})
	fail(err)
	hosts, err := hostfilter.New(hostfilter.Config{AllowedHosts: hostfilter.ParseAllowedHosts("example.com;localhost;127.0.0.1;[::1]")})
	fail(err)
	certs, err := certauth.New(certauth.Config{})
	fail(err)
	s.m, err = metrics.New(metrics.Config{})
	fail(err)
	fail(prometheus.NewRegistry().Register(s.m))
	rate, err := limits.NewRateLimiter(limits.RateConfig{Rate: 1e9, Burst: 1e9})
	fail(err)
	conc, err := limits.NewConcurrencyLimiter(limits.ConcurrencyConfig{MaxConcurrentRequests: 1024, RequestQueueLimit: 1024})
	fail(err)
	s.pol, err = timeouts.New(timeouts.Config{})
	fail(err)
	group, err := graceful.New(graceful.Config{})
	fail(err)

	h := s.pol.Handler(s.m.Route(app))
	h = certs.Handler(h)
	h = conc.Handler(h)
	h = s.lim.Handler(h)
	h = rate.Handler(h)
	s.h = group.Handler(s.m.Handler(hosts.Handler(h)))
	return s
}

// setup puts the stack on a test server: its settings and hooks, and the
// connection limit on its listener.
func (s *stack) setup(ts *httptest.Server) {
	ts.Config.Handler = s.h
	if err := errors.Join(s.lim.Apply(ts.Config), s.pol.Apply(ts.Config), s.m.Apply(ts.Config)); err != nil {
		panic(err)
	}
	ts.Listener = s.lim.Listener(ts.Listener)
}

// BenchmarkStack measures the whole stack against the bare handler: called
// in-process, with a GET and with a 1 KiB body, serially and on every core;
// and over loopback, HTTP/1.1 and h2c, eight clients at once, each request a
// GET on a kept-alive connection.
func BenchmarkStack(b *testing.B) {
	for _, l := range []struct {
		name string
		load
	}{
		{"in-process/get", load{parallel: true}},
		{"in-process/body=1KiB", load{body: 1024, parallel: true}},
	} {
		b.Run(l.name, func(b *testing.B) {
			serveArms(b, l.load, []arm{
				{"bare", app()},
				{"windhover", newStack(b, app()).h},
			})
		})
	}
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		for _, name := range []string{"bare", "windhover"} {
			b.Run("loopback-"+string(p)+"/"+name, func(b *testing.B) {
				var setup []testserver.Setup
				if name == "windhover" {
					setup = append(setup, newStack(b, app()).setup)
				}
				s := testserver.Start(b, app(), p, setup...)
				url := s.URL + "/items/42"
				if _, body := s.Get(b, "/items/42", nil); body != "ok" {
					b.Fatalf("answered %q", body)
				}
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						res, err := s.Client.Get(url)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, res.Body)
						_ = res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Errorf("status %d", res.StatusCode)
							return
						}
					}
				})
			})
		}
	}
}
