package windhover_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// existing is a server of the kind users already have, before Harden: its
// handler (a ServeMux, maybe behind a logging middleware), TLS or not, and
// hooks that must keep running.
type existing struct {
	name    string
	tls     bool
	h2      bool // HTTP/2: over TLS by ALPN, or h2c with prior knowledge
	logging func(http.Handler) http.Handler
}

// logged is a logging middleware's ResponseWriter: it records the status.
// With unwrap, it offers Unwrap as a well-behaved one does; without, it
// hides the writer beneath.
type logged struct {
	http.ResponseWriter
	status int
}

func (l *logged) WriteHeader(code int) { l.status = code; l.ResponseWriter.WriteHeader(code) }

type loggedUnwrap struct{ *logged }

func (l loggedUnwrap) Unwrap() http.ResponseWriter { return l.ResponseWriter }

func logging(unwrap bool, lines *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l := &logged{ResponseWriter: w, status: 200}
			var lw http.ResponseWriter = l
			if unwrap {
				lw = loggedUnwrap{l}
			}
			next.ServeHTTP(lw, r)
			lines.Add(1)
		})
	}
}

// TestHardenExistingServers: Harden on servers as users have them (plain
// and TLS, HTTP/1.1 and HTTP/2, a ServeMux alone or behind a logging
// middleware with and without Unwrap, with ConnState, ConnContext and
// VerifyConnection hooks), served by Run: every protection acts over real
// sockets (413, 414, 431, 400 for a host, 408 for a slow body, a slow
// reader cut, 503 over the concurrency limit, 429 over the rate, and over
// TLS a required client certificate), and every hook still runs.
func TestHardenExistingServers(t *testing.T) {
	var lines atomic.Int32
	for _, e := range []existing{
		{name: "ServeMux/h1"},
		{name: "ServeMux/h2c", h2: true},
		{name: "logging-Unwrap/h1", logging: logging(true, &lines)},
		{name: "logging-opaque/h2c", h2: true, logging: logging(false, &lines)},
		{name: "TLS/h1", tls: true},
		{name: "TLS/h2", tls: true, h2: true},
		{name: "TLS-logging-opaque/h2", tls: true, h2: true, logging: logging(false, &lines)},
	} {
		t.Run(e.name, func(t *testing.T) {
			before := lines.Load()
			hardenExisting(t, e)
			if e.logging != nil {
				assert.Greater(t, lines.Load(), before, "the logging middleware logged")
			}
		})
	}
}

func hardenExisting(t *testing.T, e existing) {
	ca := testcert.NewCA(t, "test CA")
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%s %d", r.Proto, n)
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		piece := make([]byte, 32<<10)
		for range 8 << 10 { // 256 MB at most
			if _, err := w.Write(piece); err != nil {
				return
			}
		}
	})
	var handler http.Handler = mux
	if e.logging != nil {
		handler = e.logging(mux)
	}
	type ctxKey struct{}
	var states, contexts, verified atomic.Int32
	srv := &http.Server{
		Handler:   handler,
		ErrorLog:  log.New(io.Discard, "", 0),
		ConnState: func(net.Conn, http.ConnState) { states.Add(1) },
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			contexts.Add(1)
			return context.WithValue(ctx, ctxKey{}, "mine")
		},
	}
	if e.tls {
		srv.TLSConfig = &tls.Config{
			Certificates:     []tls.Certificate{ca.Server(t).TLS()},
			VerifyConnection: func(tls.ConnectionState) error { verified.Add(1); return nil },
		}
	}
	if e.h2 && !e.tls {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	cfg := windhover.Config{
		Limits: limits.Config{
			MaxRequestBodySize:    100,
			MaxRequestLineSize:    200,
			MaxRequestHeaderCount: 20,
		},
		Timeouts: timeouts.Config{
			MinRequestBodyDataRate: timeouts.Rate{BytesPerSecond: 20_000, GracePeriod: 300 * time.Millisecond},
			MinResponseDataRate:    timeouts.Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond},
		},
		AllowedHosts: []string{"example.com"},
		RateLimit:    &limits.RateConfig{Rate: rate.Every(time.Hour), Burst: 40},
		Concurrency:  &limits.ConcurrencyConfig{MaxConcurrentRequests: 1},
		Shutdown:     gracefulConfig(0),
	}
	if e.tls {
		cfg.ClientCertificates = certauth.Config{Mode: certauth.RequireCertificate, ClientCAs: ca.Pool()}
	}
	s, err := windhover.Harden(srv, cfg)
	require.NoError(t, err)
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
	scheme := "http"
	switch {
	case e.tls:
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{ca.Client(t, "alice").TLS()}}
		tr.Protocols.SetHTTP1(!e.h2)
		tr.Protocols.SetHTTP2(e.h2)
	case e.h2:
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := scheme + "://" + ln.Addr().String()
	wantProto := "HTTP/1.1"
	if e.h2 {
		wantProto = "HTTP/2.0"
	}
	send := func(method, target string, body io.Reader, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+target, body)
		require.NoError(t, err)
		req.Host = "example.com"
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := client.Do(req)
		require.NoError(t, err, "%s %s", method, target)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		assert.Equal(t, wantProto, res.Proto)
		return res.StatusCode, string(b)
	}

	code, body := send("POST", "/", strings.NewReader(strings.Repeat("x", 100)), nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, wantProto+" 100", body)
	code, _ = send("POST", "/", strings.NewReader(strings.Repeat("x", 101)), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code, "413")
	code, _ = send("GET", "/"+strings.Repeat("a", 200), nil, nil)
	assert.Equal(t, http.StatusRequestURITooLong, code, "414")
	many := http.Header{}
	for i := range 25 {
		many.Set(fmt.Sprintf("X-F%d", i), "v")
	}
	code, _ = send("GET", "/", nil, many)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, code, "431")

	req, err := http.NewRequest("GET", base+"/", nil)
	require.NoError(t, err)
	req.Host = "evil.example"
	res, err := client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "400 for a host not allowed")

	// A body at 100 B/s against a minimum of 20,000: 408 after the grace
	// period, before it reaches the body size limit.
	code, _ = send("POST", "/", &slowBody{chunk: 10, left: 100, every: 100 * time.Millisecond}, nil)
	assert.Equal(t, http.StatusRequestTimeout, code, "408 for a slow body")

	// A reader that stops reading: cut, well before 256 MB.
	req, err = http.NewRequest("GET", base+"/big", nil)
	require.NoError(t, err)
	req.Host = "example.com"
	res, err = client.Do(req)
	require.NoError(t, err)
	time.Sleep(time.Second)
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.Error(t, err, "the stalled response was cut")
	assert.Less(t, n, int64(256<<20))
	assert.Positive(t, s.Stats().Timeouts.ResponseRateViolations)

	// One request in the handlers at a time: a second gets 503.
	blocked := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/block", nil)
		req.Host = "example.com"
		res, err := client.Do(req)
		if err != nil {
			blocked <- 0
			return
		}
		res.Body.Close()
		blocked <- res.StatusCode
	}()
	<-entered
	code, _ = send("GET", "/", nil, nil)
	assert.Equal(t, http.StatusServiceUnavailable, code, "503 over the concurrency limit")
	close(release)
	assert.Equal(t, 200, <-blocked)

	// The rate: the bucket of 40 runs out.
	refused := 0
	for range 41 {
		if code, _ = send("GET", "/", nil, nil); code == http.StatusTooManyRequests {
			refused++
			break
		}
		require.Equal(t, 200, code)
	}
	assert.Equal(t, 1, refused, "429 once the bucket is empty")

	if e.tls {
		bare := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
		if e.h2 {
			bare.NextProtos = []string{"h2"}
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), bare)
		if err == nil {
			// TLS 1.3: the server's refusal arrives with the first read.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
			if err == nil {
				_, err = bufio.NewReader(c).ReadByte()
			}
			c.Close()
		}
		assert.ErrorContains(t, err, "tls: certificate required", "a handshake without a client certificate fails")
		assert.Positive(t, verified.Load(), "the server's VerifyConnection ran")
	}
	assert.Positive(t, states.Load(), "ConnState ran")
	assert.Positive(t, contexts.Load(), "ConnContext ran")
}

// slowBody is a request body of left chunks of chunk bytes, one every
// interval, of unknown length.
type slowBody struct {
	chunk, left int
	every       time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.every)
	b.left--
	return copy(p, strings.Repeat("x", min(b.chunk, len(p)))), nil
}
