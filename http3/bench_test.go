package http3_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
)

var (
	limitsAllowAll      = limits.RateConfig{Rate: 1e9, Burst: 1e9}
	concurrencyAllowAll = limits.ConcurrencyConfig{MaxConcurrentRequests: 1 << 20}
)

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello")
})

// BenchmarkHTTP3 measures a GET over HTTP/3, on one connection with
// parallel streams, served by quic-go alone and by quic-go behind every
// windhover policy at its defaults (a host filter, rate and concurrency
// limits that allow everything), the request metrics included.
func BenchmarkHTTP3(b *testing.B) {
	b.Run("quic-go", func(b *testing.B) {
		ca := testcert.NewCA(b, "bench CA")
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &qhttp3.Server{Handler: hello, TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(b).TLS()}}}
		go func() { _ = srv.Serve(pc) }()
		b.Cleanup(func() { _ = srv.Close(); _ = pc.Close() })
		st := &stack{ca: ca, udp: pc.LocalAddr().String()}
		bench(b, st)
	})
	b.Run("windhover", func(b *testing.B) {
		cfg := windhover.Config{
			AllowedHosts: []string{"127.0.0.1"},
			RateLimit:    &limitsAllowAll,
			Concurrency:  &concurrencyAllowAll,
		}
		st := serve(b, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
			mux.Handle("/bench", hello)
		})
		bench(b, st)
	})
}

func bench(b *testing.B, st *stack) {
	c := st.client(b)
	url := st.url("", "/bench")
	if code, _ := get(b, c, url); code != http.StatusOK {
		b.Fatal(code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("%d", res.StatusCode)
				return
			}
		}
	})
}
