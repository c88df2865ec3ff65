package metrics

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/testserver"
)

// app reads the body and answers a constant, through a ServeMux so that the
// request has a pattern.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// requestFor returns a request to /items/42 as a server hands it over, with
// a few header fields and a body of n bytes (none if n is 0), and a function
// to rewind the body.
func requestFor(n int) (*http.Request, func()) {
	r := httptest.NewRequest("GET", "/items/42?x=1", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	if n == 0 {
		return r, func() {}
	}
	body := testserver.NewRewindBody(bytes.Repeat([]byte("b"), n))
	r.Method, r.Body, r.ContentLength = "POST", body, int64(n)
	return r, body.Rewind
}

// onConnection returns r as the Handler sees it on a server under m.Apply.
func onConnection(m *Metrics, r *http.Request) *http.Request {
	server, client := net.Pipe()
	server.Close()
	client.Close()
	return r.WithContext(m.open(r.Context(), server, nil))
}

// promhttpChain is promhttp's duration and counter middleware, chained as
// its documentation shows, with the labels they support (code, method).
func promhttpChain(next http.Handler) http.Handler {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "h", Buckets: DefaultRequestDurationBuckets,
	}, []string{"code", "method"})
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"code", "method"})
	return promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(counter, next))
}

func TestHandlerAllocations(t *testing.T) {
	w := testserver.NewNopWriter()
	for _, tc := range []struct {
		name   string
		body   int
		cfg    Config
		onConn bool
	}{
		{"no body", 0, Config{}, false},
		{"no body, on a connection", 0, Config{}, true},
		{"1 KiB body", 1024, Config{}, false},
		{"1 KiB body, sizes", 1024, Config{RequestSizes: true}, true},
	} {
		m, err := New(tc.cfg)
		require.NoError(t, err)
		r, rewind := requestFor(tc.body)
		if tc.onConn {
			r = onConnection(m, r)
		}
		allocs := func(h http.Handler) float64 {
			h.ServeHTTP(w, r) // the series is created once
			return testing.AllocsPerRun(200, func() {
				rewind()
				h.ServeHTTP(w, r)
			})
		}
		bare, measured := allocs(app()), allocs(m.Handler(app()))
		// The state of a request whose body is not counted comes from a
		// pool; one whose body is counted is allocated with the copy of
		// the request it hands on.
		budget := 1.0
		if !tc.cfg.RequestSizes {
			budget = 0
		}
		assert.LessOrEqual(t, measured-bare, budget, "%s: %v allocations bare, %v measured", tc.name, bare, measured)
	}
}

// benchHandlers are the handlers the benchmarks compare in one run: bare,
// behind the Handler with and without body sizes, and behind promhttp's
// duration and counter middleware.
func benchHandlers(tb testing.TB) []struct {
	name string
	h    http.Handler
} {
	plain, err := New(Config{})
	require.NoError(tb, err)
	sizes, err := New(Config{RequestSizes: true})
	require.NoError(tb, err)
	return []struct {
		name string
		h    http.Handler
	}{
		{"bare", app()},
		{"metrics", plain.Handler(app())},
		{"metrics+sizes", sizes.Handler(app())},
		{"promhttp", promhttpChain(app())},
	}
}

func BenchmarkHandler(b *testing.B) {
	for _, size := range []int{0, 1024} {
		for _, tc := range benchHandlers(b) {
			b.Run(tc.name+"/body="+strconv.Itoa(size), func(b *testing.B) {
				w := testserver.NewNopWriter()
				r, rewind := requestFor(size)
				b.ReportAllocs()
				for b.Loop() {
					rewind()
					tc.h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkHandlerParallel runs requests without a body on every core,
// where shared state (the series cache, the gauges) would show contention.
func BenchmarkHandlerParallel(b *testing.B) {
	for _, tc := range benchHandlers(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := testserver.NewNopWriter()
				r, _ := requestFor(0)
				for pb.Next() {
					tc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}

// BenchmarkServer measures whole HTTP/1.1 requests over loopback, bare and
// with every metric on (Handler, Apply, sizes).
func BenchmarkServer(b *testing.B) {
	for _, measured := range []bool{false, true} {
		name := "bare"
		if measured {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			var s *testserver.Server
			if measured {
				m, err := New(Config{RequestSizes: true})
				require.NoError(b, err)
				s = serve(b, m, app(), testserver.H1)
			} else {
				s = testserver.Start(b, app(), testserver.H1)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Client.Get(s.URL + "/items/1")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
}

// BenchmarkConnState measures the two reports net/http makes to the
// ConnState hook for each request on a kept-alive connection, Active then
// Idle, on a connection whose record the hook finds as in Harden's
// composition (through the h1wire Conn's values), or through m's table.
func BenchmarkConnState(b *testing.B) {
	for _, path := range []string{"wire", "table"} {
		b.Run(path, func(b *testing.B) {
			m, err := New(Config{})
			require.NoError(b, err)
			srv := &http.Server{}
			m.Apply(srv)
			server, client := net.Pipe()
			b.Cleanup(func() { server.Close(); client.Close() })
			var c net.Conn = server
			ctx := context.Background()
			if path == "wire" {
				c = h1wire.New(h1wire.Config{}).Conn(server)
				ctx = h1wire.ConnContext(ctx, c)
			}
			srv.ConnContext(ctx, c)
			if want := map[string]int{"wire": 0, "table": 1}[path]; tableLen(m) != want {
				b.Fatalf("%d records in the table, want %d", tableLen(m), want)
			}
			srv.ConnState(c, http.StateNew)
			b.ReportAllocs()
			for b.Loop() {
				srv.ConnState(c, http.StateActive)
				srv.ConnState(c, http.StateIdle)
			}
			b.StopTimer()
			srv.ConnState(c, http.StateClosed)
			if n := tableLen(m); n != 0 {
				b.Fatalf("%d records left in the table", n)
			}
		})
	}
}
