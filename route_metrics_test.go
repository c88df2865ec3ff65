package windhover_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
)

// TestHardenRoute checks the route label of GETs and POSTs over HTTP/1.1,
// h2c and TLS with HTTP/2 (a client certificate required, so that certauth
// hands on requests with an identity) through Harden's whole composition,
// the application a ServeMux the user wrapped in nothing: every policy that
// copies a request sets the ServeMux's pattern back. Every collector of the
// composition, registered with Register, passes Prometheus' lint, and so
// does the text of a scrape of Config.MetricsPath, linted as promtool check
// metrics lints it.
func TestHardenRoute(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tls, h2 bool
	}{
		{"h1", false, false},
		{"h2c", false, true},
		{"TLS/h2", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := testcert.NewCA(t, "test CA")
			mux := http.NewServeMux()
			mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, r.PathValue("id"))
			})
			mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(w, r.Body)
			})
			srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
			// Every policy on, so that every collector is registered.
			cfg := windhover.Config{
				Shutdown:    gracefulConfig(0),
				MetricsPath: "/metrics",
				RateLimit:   &limits.RateConfig{Rate: 1e6, Burst: 1e6},
				Concurrency: &limits.ConcurrencyConfig{MaxConcurrentRequests: 100},
			}
			if tc.tls {
				srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS()}}
				cfg.ClientCertificates = certauth.Config{Mode: certauth.RequireCertificate, ClientCAs: ca.Pool()}
			} else if tc.h2 {
				srv.Protocols = new(http.Protocols)
				srv.Protocols.SetHTTP1(true)
				srv.Protocols.SetUnencryptedHTTP2(true)
			}
			s, err := windhover.Harden(srv, cfg)
			require.NoError(t, err)
			reg := prometheus.NewPedanticRegistry()
			require.NoError(t, s.Register(reg))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- s.Run(ctx, ln) }()
			defer func() {
				cancel()
				select {
				case err := <-ran:
					assert.NoError(t, err)
				case <-time.After(10 * time.Second):
					t.Error("Run did not return")
				}
			}()

			tr := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
			base := "http://" + ln.Addr().String()
			switch {
			case tc.tls:
				base = "https://" + ln.Addr().String()
				tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{ca.Client(t, "alice").TLS()}}
				tr.Protocols.SetHTTP2(true)
			case tc.h2:
				tr.Protocols.SetUnencryptedHTTP2(true)
			default:
				tr.Protocols.SetHTTP1(true)
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for _, req := range []struct{ method, target, body, want string }{
				{"GET", "/items/1", "", "1"},
				{"GET", "/items/2", "", "2"},
				{"POST", "/upload", "hello", "hello"},
			} {
				var body io.Reader
				if req.body != "" {
					body = strings.NewReader(req.body)
				}
				r, err := http.NewRequest(req.method, base+req.target, body)
				require.NoError(t, err)
				resp, err := client.Do(r)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, req.want, string(got))
			}

			proto := "1.1"
			if tc.h2 {
				proto = "2"
			}
			count := func(method, route string) float64 {
				mfs, err := reg.Gather()
				require.NoError(t, err)
				for _, mf := range mfs {
					if mf.GetName() != "http_server_request_duration_seconds" {
						continue
					}
					for _, m := range mf.Metric {
						labels := map[string]string{}
						for _, l := range m.Label {
							labels[l.GetName()] = l.GetValue()
						}
						if labels["http_request_method"] == method && labels["http_route"] == route && labels["network_protocol_version"] == proto {
							return float64(m.Histogram.GetSampleCount())
						}
					}
				}
				return 0
			}
			assert.Equal(t, 2.0, count("GET", "/items/{id}"))
			assert.Equal(t, 1.0, count("POST", "/upload"))

			problems, err := testutil.GatherAndLint(reg)
			require.NoError(t, err)
			assert.Empty(t, problems)

			// promtool check metrics, which lints a scrape's text as this
			// does (promtool itself is too heavy to build in a test).
			resp, err := client.Get(base + "/metrics")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			problems, err = promlint.New(resp.Body).Lint()
			require.NoError(t, err)
			assert.Empty(t, problems)
		})
	}
}
