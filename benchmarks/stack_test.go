package benchmarks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

// stack is every windhover policy composed by windhover.Harden, configured
// as e2e.sh runs examples/server: Kestrel's defaults, plus a connection
// limit, a per-client rate and a concurrency limit with a queue, all
// generous enough never to refuse the benchmark's load.
type stack struct {
	cfg windhover.Config
	h   http.Handler // the composed handler, for the in-process arms
}

func stackConfig() windhover.Config {
	return windhover.Config{
		Limits:       limits.Config{MaxConcurrentConnections: 10_000},
		AllowedHosts: hostfilter.ParseAllowedHosts("example.com;localhost;127.0.0.1;[::1]"),
		RateLimit:    &limits.RateConfig{Rate: 1e9, Burst: 1e9},
		Concurrency:  &limits.ConcurrencyConfig{MaxConcurrentRequests: 1024, RequestQueueLimit: 1024},
	}
}

func newStack(tb testing.TB, app http.Handler) *stack {
	s := &stack{cfg: stackConfig()}
	srv := &http.Server{Handler: app}
	w, err := windhover.Harden(srv, s.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Register(prometheus.NewRegistry()); err != nil {
		tb.Fatal(err)
	}
	s.h = srv.Handler
	return s
}

// setup hardens a test server with the stack's configuration: its handler,
// settings and hooks, and its listener.
func (s *stack) setup(ts *httptest.Server) {
	w, err := windhover.Harden(ts.Config, s.cfg)
	if err != nil {
		panic(err)
	}
	if err := w.Register(prometheus.NewRegistry()); err != nil {
		panic(err)
	}
	ts.Listener = w.Listener(ts.Listener)
}

// BenchmarkStack measures the whole stack against the bare handler: called
// in-process, with a GET and with a 1 KiB body, serially and on every core,
// and with GETs that are each a new object, as a server's are (get-fresh);
// and over loopback, HTTP/1.1 and h2c, eight clients at once, each request a
// GET on a kept-alive connection.
func BenchmarkStack(b *testing.B) {
	for _, l := range []struct {
		name string
		load
	}{
		{"in-process/get", load{parallel: true}},
		{"in-process/body=1KiB", load{body: 1024, parallel: true}},
		{"in-process/get-fresh", load{parallel: true, fresh: true}},
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
