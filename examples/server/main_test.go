package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/net/websocket"
)

// get sends a GET for url with c and returns the status and the body, read
// to the end so that c keeps the connection for its next request.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// start runs the server with args on a free port and returns its base URL
// and a function that stops it and returns run's error.
func start(t *testing.T, args ...string) (string, *testserver.SyncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &testserver.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "logs: %s", logs)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := strings.TrimSpace(strings.TrimPrefix(line, "windhover example server listening on "))
	require.Regexp(t, `^https?://127\.0\.0\.1:`, url, line)
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return url, logs, stop
}

func TestServerRoutesAndLimits(t *testing.T) {
	url, logs, stop := start(t, "-max-body", "100")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()

	code, body := get(t, c, url+"/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "hello\n", body)

	res, err := c.Post(url+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 100)))
	require.NoError(t, err)
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "100\n", string(answer))

	res, err = c.Post(url+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 101)))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 413, res.StatusCode)

	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "refused")
	assert.Contains(t, logs.String(), "body_too_large")
	assert.Contains(t, logs.String(), "stopped")
}

func TestServerBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-max-conns", "-5"}, io.Discard, &stderr)
	assert.ErrorContains(t, err, "MaxConcurrentConnections")
	err = run(context.Background(), []string{"stray"}, io.Discard, &stderr)
	assert.ErrorContains(t, err, "unexpected arguments")
}

func TestServerCutsSlowUpload(t *testing.T) {
	url, logs, stop := start(t, "-min-rate", "10000", "-min-rate-grace", "200ms")
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nabc")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	assert.Equal(t, 408, res.StatusCode)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "too slow")
}

func TestServerFiltersHosts(t *testing.T) {
	url, logs, stop := start(t, "-allowed-hosts", "example.com;127.0.0.1")
	req, err := http.NewRequest("GET", url+"/", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode, "127.0.0.1 is allowed")

	req.Host = "evil.example.net"
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "invalid hostname\n", string(body))
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "host_not_allowed")
}

// TestServerClientCertificates serves TLS asking for client certificates:
// /whoami answers with the identity of a client that sent one and 403 to
// one that did not; a forged X-Client-Cert from an untrusted peer is
// ignored.
func TestServerClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "example CA")
	certFile, keyFile := ca.Server(t).Write(t, dir, "server")
	url, logs, stop := start(t, "-tls-cert", certFile, "-tls-key", keyFile,
		"-client-ca", ca.WriteCA(t, dir), "-client-cert-mode", "allow")
	require.True(t, strings.HasPrefix(url, "https://"), url)

	alice := ca.Client(t, "alice")
	for _, tc := range []struct {
		name   string
		certs  []tls.Certificate
		header string
		status int
		body   string
	}{
		{"with a certificate", []tls.Certificate{alice.TLS()}, "", 200, "subject: CN=alice,O=windhover tests\n"},
		{"without", nil, "", 403, "Forbidden\n"},
		{"forged header", nil, neturl.QueryEscape(string(alice.PEM())), 403, "Forbidden\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), Certificates: tc.certs},
				ForceAttemptHTTP2: true,
			}}
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest("GET", url+"/whoami", nil)
			if tc.header != "" {
				req.Header.Set("X-Client-Cert", tc.header)
			}
			res, err := c.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Equal(t, "HTTP/2.0", res.Proto)
			assert.True(t, strings.HasPrefix(string(body), tc.body), string(body))
		})
	}
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "certauth")
}

// TestServerMetrics scrapes /metrics after some traffic: the request,
// connection and policy series are there and have moved.
func TestServerMetrics(t *testing.T) {
	url, _, stop := start(t, "-max-body", "10")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	res, err := c.Post(url+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 11)))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 413, res.StatusCode)
	code, _ := get(t, c, url+"/")
	require.Equal(t, 200, code)

	// net/http may linger half a second before closing the connection it
	// refused with 413 (its rstAvoidanceDelay): scrape until only this
	// client's connection is open.
	const oneConnection = `windhover_active_connections{network_transport="tcp"} 1`
	var body string
	testserver.Eventually(t, func() bool {
		var code int
		code, body = get(t, c, url+"/metrics")
		return code == 200 && strings.Contains(body, oneConnection)
	}, "/metrics never showed the one open connection")
	for _, want := range []string{
		`windhover_rejections_total{policy="limits",reason="body_too_large"} 1`,
		`windhover_rejections_total{policy="hostfilter",reason="host_not_allowed"} 0`,
		`windhover_rejections_total{policy="certauth",reason="no_certificate"} 0`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/{$}",network_protocol_version="1.1",url_scheme="http"} 1`,
		oneConnection,
		`windhover_min_data_rate_violations_total{direction="request_body"} 0`,
		"go_goroutines ",
	} {
		assert.Contains(t, body, want)
	}
	require.NoError(t, stop())
}

// TestServerDrains stops the server while a slow request is in flight:
// during the drain delay it still serves and /readyz answers 503; the slow
// request completes; run returns without error.
func TestServerDrains(t *testing.T) {
	url, logs, stop := start(t, "-drain-delay", "400ms", "-shutdown-timeout", "5s")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	code, _ := get(t, c, url+"/readyz")
	require.Equal(t, 200, code)

	slow := make(chan string, 1)
	go func() {
		res, err := (&http.Client{}).Get(url + "/slow?d=1s")
		if err != nil {
			slow <- err.Error()
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- res.Status + " " + string(body)
	}()
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(100 * time.Millisecond)
	code, _ = get(t, c, url+"/readyz")
	assert.Equal(t, 503, code, "not ready during the drain delay")
	code, body := get(t, c, url+"/")
	assert.Equal(t, 200, code, "but still serving")
	assert.Equal(t, "hello\n", body)

	assert.Equal(t, "200 OK waited 1s\n", <-slow)
	require.NoError(t, <-stopped)
	assert.Contains(t, logs.String(), "stopping")
	assert.Regexp(t, `msg=stopped .*in_flight=1 completed=\d+ unfinished=0 forced_closed=0 timed_out=false`, logs.String())
}

// TestServerRateAndConcurrency turns on the per-client rate and the
// concurrency limit: a burst past the rate gets 429 with Retry-After, and a
// request past the concurrency limit and its empty queue gets 503.
func TestServerRateAndConcurrency(t *testing.T) {
	url, logs, stop := start(t, "-rate", "1", "-burst", "2")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	var codes []int
	var retry string
	for range 3 {
		res, err := c.Get(url + "/")
		require.NoError(t, err)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		retry = res.Header.Get("Retry-After")
	}
	assert.Equal(t, []int{200, 200, 429}, codes)
	assert.Equal(t, "1", retry)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "rate_limited")

	url, logs, stop = start(t, "-max-concurrent", "1")
	slow := make(chan int, 1)
	go func() {
		res, err := (&http.Client{}).Get(url + "/slow?d=500ms")
		if err != nil {
			slow <- 0
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	time.Sleep(150 * time.Millisecond)
	res, err := c.Get(url + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 503, res.StatusCode)
	assert.Equal(t, 200, <-slow)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "concurrency_limit")
}

// TestServerRoutes drives the routes the other tests do not: /stream,
// /slow's argument checks, /ws, /healthz; and the JSON logs.
func TestServerRoutes(t *testing.T) {
	url, logs, stop := start(t, "-log-json")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	code, body := get(t, c, url+"/stream?bytes=100000")
	assert.Equal(t, 200, code)
	assert.Equal(t, strings.Repeat("\x00", 100000), body)
	code, _ = get(t, c, url+"/stream?bytes=-1")
	assert.Equal(t, 400, code)
	code, _ = get(t, c, url+"/slow?d=forever")
	assert.Equal(t, 400, code)
	code, body = get(t, c, url+"/healthz")
	assert.Equal(t, 200, code)
	assert.Equal(t, "ok\n", body)

	ws, err := websocket.Dial(strings.Replace(url, "http://", "ws://", 1)+"/ws", "", url)
	require.NoError(t, err)
	_, err = ws.Write([]byte("echo me"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := ws.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo me", string(buf[:n]))
	require.NoError(t, ws.Close())

	require.NoError(t, stop())
	assert.Contains(t, logs.String(), `"msg":"stopped"`)
}
