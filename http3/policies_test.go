package http3_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
)

// Every handler-level policy of the hardened chain answers an HTTP/3
// request as it answers one over TCP: the same handler serves both.
func TestPoliciesOverHTTP3(t *testing.T) {
	cfg := windhover.Config{
		AllowedHosts: []string{"127.0.0.1", "localhost"},
		Limits: limits.Config{
			MaxRequestLineSize:         1024,
			MaxRequestHeaderCount:      20,
			MaxRequestHeadersTotalSize: 4096,
			MaxRequestBodySize:         1000,
		},
	}
	st := serve(t, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return // the limit answers
			}
			_, _ = io.WriteString(w, "read "+strconv.FormatInt(n, 10))
		})
	})
	c := st.client(t)

	if code, body := get(t, c, st.url("", "/")); code != http.StatusOK || body != "hello over HTTP/3.0" {
		t.Fatalf("GET /: %d %q", code, body)
	}
	t.Run("host filter 400", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, st.url("", "/"), nil)
		req.Host = "evil.example.com"
		if code, _, _ := do(t, c, req); code != http.StatusBadRequest {
			t.Fatalf("Host evil.example.com: %d, want 400", code)
		}
	})
	t.Run("request line 414", func(t *testing.T) {
		if code, _ := get(t, c, st.url("", "/"+strings.Repeat("a", 1100))); code != http.StatusRequestURITooLong {
			t.Fatalf("long target: %d, want 414", code)
		}
	})
	t.Run("header count 431", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, st.url("", "/"), nil)
		for i := range 25 {
			req.Header.Set("X-Field-"+strconv.Itoa(i), "v")
		}
		if code, _, _ := do(t, c, req); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("25 fields: %d, want 431", code)
		}
	})
	t.Run("header size 431", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, st.url("", "/"), nil)
		req.Header.Set("X-Big", strings.Repeat("b", 5000))
		if code, _, _ := do(t, c, req); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("a 5000-byte field: %d, want 431", code)
		}
	})
	t.Run("body 413", func(t *testing.T) {
		code, body, _ := do(t, c, newRequest(t, http.MethodPost, st.url("", "/upload"), bytes.NewReader(make([]byte, 999))))
		if code != http.StatusOK || body != "read 999" {
			t.Fatalf("999 bytes: %d %q", code, body)
		}
		code, _, _ = do(t, c, newRequest(t, http.MethodPost, st.url("", "/upload"), bytes.NewReader(make([]byte, 1001))))
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("1001 bytes: %d, want 413", code)
		}
		// Without a Content-Length: counted as read.
		code, _, _ = do(t, c, newRequest(t, http.MethodPost, st.url("", "/upload"), io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600)))))
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("1200 bytes streamed: %d, want 413", code)
		}
	})
	stats := st.ws.Stats()
	if stats.HostFilter.RejectedTotal() == 0 {
		t.Errorf("host filter counted no refusal: %+v", stats.HostFilter)
	}
}

func TestRateLimitOverHTTP3(t *testing.T) {
	cfg := windhover.Config{RateLimit: &limits.RateConfig{Rate: 0.001, Burst: 2}}
	st := serve(t, cfg, http3.Config{}, nil)
	c := st.client(t)
	for i := range 2 {
		if code, _ := get(t, c, st.url("", "/")); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	code, _, hdr := do(t, c, newRequest(t, http.MethodGet, st.url("", "/"), nil))
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q; want 429 with Retry-After", code, hdr.Get("Retry-After"))
	}
}

func TestConcurrencyLimitOverHTTP3(t *testing.T) {
	cfg := windhover.Config{Concurrency: &limits.ConcurrencyConfig{MaxConcurrentRequests: 1}}
	entered, release := make(chan struct{}), make(chan struct{})
	st := serve(t, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
		})
	})
	c := st.client(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		if code, _ := get(t, c, st.url("", "/slow")); code != http.StatusOK {
			t.Errorf("the request holding the slot: %d", code)
		}
	})
	<-entered
	if code, _ := get(t, c, st.url("", "/")); code != http.StatusServiceUnavailable {
		t.Errorf("a second request at once: %d, want 503", code)
	}
	close(release)
	wg.Wait()
}

// The client certificate policy, per server name, holds in the QUIC
// handshake as in TCP's, and per route with 403.
func TestCertAuthOverHTTP3(t *testing.T) {
	ca := testcert.NewCA(t, "windhover http3 test CA")
	cfg := windhover.Config{ClientCertificates: certauth.Config{
		Mode:      certauth.AllowCertificate,
		Hosts:     map[string]certauth.Mode{"api.example.com": certauth.RequireCertificate},
		ClientCAs: ca.Pool(),
	}}
	st := serveCA(t, ca, cfg, http3.Config{}, func(mux *http.ServeMux, s *windhover.Server) {
		mux.Handle("/admin", s.ClientCertificates().Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := certauth.FromRequest(r)
			_, _ = io.WriteString(w, "hello "+id.Certificate.Subject.CommonName)
		})))
	})
	client := st.ca.Client(t, "alice").TLS()

	t.Run("allowed host, no certificate, route requires one: 403", func(t *testing.T) {
		if code, _ := get(t, st.client(t), st.url("", "/admin")); code != http.StatusForbidden {
			t.Fatalf("%d, want 403", code)
		}
	})
	t.Run("allowed host, certificate: 200", func(t *testing.T) {
		code, body := get(t, st.client(t, client), st.url("", "/admin"))
		if code != http.StatusOK || body != "hello alice" {
			t.Fatalf("%d %q", code, body)
		}
	})
	t.Run("host that requires one, without: handshake fails", func(t *testing.T) {
		c := st.client(t)
		resolveTo(c, st.udp)
		_, err := c.Get(st.url("api.example.com", "/"))
		if err == nil {
			t.Fatal("a request without a certificate to a host that requires one was served")
		}
		t.Logf("refused as expected: %v", err)
	})
	t.Run("host that requires one, with: 200", func(t *testing.T) {
		c := st.client(t, client)
		resolveTo(c, st.udp)
		if code, _ := get(t, c, st.url("api.example.com", "/")); code != http.StatusOK {
			t.Fatalf("%d", code)
		}
	})
	t.Run("a Host that requires one, on a connection without: 421", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, st.url("", "/"), nil)
		req.Host = "api.example.com"
		if code, _, _ := do(t, st.client(t), req); code != http.StatusMisdirectedRequest {
			t.Fatalf("%d, want 421", code)
		}
	})
	t.Run("a certificate the policy refuses: handshake fails", func(t *testing.T) {
		other := testcert.NewCA(t, "another CA").Client(t, "mallory").TLS()
		c := st.client(t, other)
		if _, err := c.Get(st.url("", "/")); err == nil {
			t.Fatal("a certificate from an unknown CA was accepted")
		}
	})
	if s := st.ws.Stats().CertAuth; s.HandshakeFailures+s.RejectedTotal() == 0 {
		t.Errorf("certauth counted no refused handshake: %+v", s)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The probes and the metrics path of the windhover.Config answer over
// HTTP/3 as over TCP.
func TestProbesOverHTTP3(t *testing.T) {
	cfg := windhover.Config{LivePath: "/healthz/live", ReadyPath: "/healthz/ready", MetricsPath: "/metrics"}
	st := serve(t, cfg, http3.Config{}, nil)
	if err := st.ws.Register(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	c := st.client(t)
	for _, p := range []struct{ path, want string }{
		{"/healthz/live", "ok\n"},
		{"/healthz/ready", "serving\n"},
		{"/metrics", "http_server_request_duration_seconds"}, // the probes' requests
	} {
		path, want := p.path, p.want
		code, body := get(t, c, st.url("", path))
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %.80q, want 200 with %q", path, code, body, want)
		}
	}
}
