package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
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
	urls, logs, stop := serve(t, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	require.Len(t, urls, 1)
	require.Regexp(t, `^https?://127\.0\.0\.1:`, urls[0])
	return urls[0], logs, stop
}

// serve runs the server with args and returns the URLs of its ready line
// and a function that stops it and returns run's error.
func serve(t *testing.T, args ...string) ([]string, *testserver.SyncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &testserver.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "logs: %s", logs)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	const prefix = "windhover example server listening on "
	require.True(t, strings.HasPrefix(line, prefix), line)
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
	return strings.Fields(strings.TrimPrefix(line, prefix)), logs, stop
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
	assert.ErrorContains(t, err, "-max-conns", "the flag, not limits' field")
	err = run(context.Background(), []string{"stray"}, io.Discard, &stderr)
	assert.ErrorContains(t, err, "unexpected arguments")
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-client-cert-mode", "allow"}, io.Discard, &stderr)
	assert.ErrorContains(t, err, "-client-ca", "the flag to set, not certauth's field")
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
	const oneConnection = `windhover_active_connections{network_transport="tcp",network_type="ipv4"} 1`
	var body string
	testserver.Eventually(t, func() bool {
		var code int
		code, body = get(t, c, url+"/metrics")
		return code == 200 && strings.Contains(body, oneConnection)
	}, "/metrics never showed the one open connection")
	for _, want := range []string{
		`windhover_rejections_total{policy="limits",policy_name="default",reason="body_too_large"} 1`,
		`windhover_rejections_total{policy="hostfilter",policy_name="default",reason="host_not_allowed"} 0`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/{$}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1`,
		oneConnection,
		`windhover_min_data_rate_violations_total{direction="request_body",policy="timeouts",policy_name="default"} 0`,
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
	assert.Regexp(t, `msg=stopped .*in_flight=1 completed=\d+ unfinished=0 silent_closed=\d+ forced_closed=0 timed_out=false`, logs.String())
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

// jsonLines parses the JSON log lines in logs.
func jsonLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var ls []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &l), s)
		ls = append(ls, l)
	}
	return ls
}

// logged counts the events of kind k that the JSON log lines stand for:
// one for each line whose message begins with msg, plus what each line of
// the kind says it suppressed; and the lines that stand for them.
func logged(ls []map[string]any, k logKind, msg string) (events, lines int) {
	for _, l := range ls {
		m, _ := l["msg"].(string)
		ofKind := l["policy"] == k.policy && l["reason"] == k.reason
		if !ofKind && !strings.HasPrefix(m, msg) {
			continue
		}
		lines++
		if strings.HasPrefix(m, msg) {
			events++
		}
		if n, ok := l["suppressed"].(float64); ok && ofKind {
			events += int(n)
		}
	}
	return events, lines
}

// maxLines is the most lines of a kind the log limiter may write in d, its
// final flush included.
func maxLines(d time.Duration) int {
	return logBurst + int(d/logEvery) + 1 + 1
}

// TestServerTrustedProxiesWithoutClientCA trusts a proxy without -client-ca:
// the server starts, the rate limiter believes the proxy's X-Forwarded-For,
// and X-Client-Cert, which nothing can validate, is removed and counted,
// whoever sends it. -trusted-proxies with nothing to trust the proxies for
// starts too, and says so.
func TestServerTrustedProxiesWithoutClientCA(t *testing.T) {
	url, logs, stop := start(t, "-trusted-proxies", "127.0.0.1;unix", "-rate", "0.001", "-burst", "1")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	do := func(client, path, cert string) int {
		req, err := http.NewRequest("GET", url+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", client)
		if cert != "" {
			req.Header.Set("X-Client-Cert", cert)
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, 200, do("192.0.2.1", "/", ""))
	assert.Equal(t, 429, do("192.0.2.1", "/", ""), "the proxy's client has had its request")
	assert.Equal(t, 200, do("192.0.2.2", "/", ""), "another client behind the proxy has not")

	alice := testcert.NewCA(t, "example CA").Client(t, "alice")
	assert.Equal(t, 403, do("192.0.2.3", "/whoami", neturl.QueryEscape(string(alice.PEM()))),
		"a forwarded certificate is not believed without -client-ca")
	_, body := get(t, c, url+"/metrics")
	assert.Contains(t, body, `windhover_certauth_forwarded_total{outcome="ignored",policy="certauth",policy_name="default"} 1`)
	assert.NotContains(t, body, `windhover_certauth_forwarded_total{outcome="accepted"`, "certauth asks no certificate and trusts no proxy: only what it strips is exported")
	assert.Contains(t, body, `windhover_rejections_total{policy="rate",policy_name="default",reason="rate_limited"} 1`)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "X-Client-Cert, without -client-ca to validate it, is removed from every request")

	_, logs, stop = start(t, "-trusted-proxies", "10.0.0.0/8")
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "-trusted-proxies has no effect")
}

// TestServerProbesOutsideLimits keeps the slot of -max-concurrent 1 busy and
// spends the client's -rate: / gets 503, then 429, while /healthz, /readyz
// and /metrics answer 200, over HTTP/1.1 and h2c, counted in the metrics
// and still under the request line limit. The liveness and readiness probes
// answer any Host; /metrics only the allowed ones.
func TestServerProbesOutsideLimits(t *testing.T) {
	url, _, stop := start(t, "-h2c", "-rate", "0.001", "-burst", "2", "-max-concurrent", "1")
	h1 := &http.Client{Transport: &http.Transport{}}
	defer h1.CloseIdleConnections()
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: protos}}
	defer h2c.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/slow?d=1h", nil)
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			res.Body.Close()
		}
		slow <- err
	}()
	testserver.Eventually(t, func() bool {
		code, body := get(t, h1, url+"/metrics")
		return code == 200 && strings.Contains(body, `windhover_concurrency_active_requests{policy="concurrency",policy_name="default"} 1`)
	}, "/slow never took the concurrency slot")

	code, _ := get(t, h1, url+"/")
	assert.Equal(t, 503, code, "the concurrency limit is busy")
	code, _ = get(t, h1, url+"/")
	assert.Equal(t, 429, code, "the rate is spent")
	code, _ = get(t, h2c, url+"/")
	assert.Equal(t, 429, code)

	for _, c := range []*http.Client{h1, h2c} {
		for range 3 {
			code, body := get(t, c, url+"/healthz")
			assert.Equal(t, 200, code)
			assert.Equal(t, "ok\n", body)
			code, _ = get(t, c, url+"/readyz")
			assert.Equal(t, 200, code)
			code, body = get(t, c, url+"/metrics")
			assert.Equal(t, 200, code)
			assert.Contains(t, body, "windhover_rejections_total")
		}
		res, err := c.Head(url + "/healthz")
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
	}

	for _, tc := range []struct {
		path string
		host string
		code int
	}{
		{"/healthz", "10.1.2.3:8080", 200},
		{"/readyz", "10.1.2.3:8080", 200},
		{"/metrics", "10.1.2.3:8080", 400},
		{"/", "10.1.2.3:8080", 400},
		{"/healthz?" + strings.Repeat("x", 9000), "localhost", 414},
	} {
		req, err := http.NewRequest("GET", url+tc.path, nil)
		require.NoError(t, err)
		req.Host = tc.host
		res, err := h1.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, tc.code, res.StatusCode, "%s with Host %s", tc.path[:min(len(tc.path), 20)], tc.host)
	}

	_, body := get(t, h2c, url+"/metrics")
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/healthz",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 4`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/healthz",network_protocol_name="http",network_protocol_version="2",url_scheme="http"} 3`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/readyz",network_protocol_name="http",network_protocol_version="2",url_scheme="http"} 3`,
		`windhover_rejections_total{policy="concurrency",policy_name="default",reason="concurrency_limit"} 1`,
		`windhover_rejections_total{policy="rate",policy_name="default",reason="rate_limited"} 2`,
		`windhover_rejections_total{policy="limits",policy_name="default",reason="request_line_too_long"} 1`,
		`windhover_rejections_total{policy="hostfilter",policy_name="default",reason="host_not_allowed"} 2`,
	} {
		assert.Contains(t, body, want)
	}
	cancel()
	assert.ErrorIs(t, <-slow, context.Canceled)
	require.NoError(t, stop())
}

// TestServerRefusalLogLimited sends 10,000 requests past -rate, pipelined
// on four connections: each is refused and counted, but the log has a few
// lines for them, which together count every refusal.
func TestServerRefusalLogLimited(t *testing.T) {
	url, logs, stop := start(t, "-rate", "0.001", "-burst", "1", "-log-json")
	begin := time.Now()
	const conns, perConn = 4, 2500
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			go func() {
				w := bufio.NewWriter(c)
				for range perConn {
					_, _ = io.WriteString(w, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
				}
				_ = w.Flush()
			}()
			br := bufio.NewReader(c)
			for range perConn {
				res, err := http.ReadResponse(br, nil)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				codes[res.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{200: 1, 429: conns*perConn - 1}, codes)

	code, body := get(t, http.DefaultClient, url+"/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `windhover_rejections_total{policy="rate",policy_name="default",reason="rate_limited"} 9999`)
	require.NoError(t, stop())
	elapsed := time.Since(begin)

	events, lines := logged(jsonLines(t, logs.String()), logKind{"rate", "rate_limited"}, "refused")
	assert.Equal(t, conns*perConn-1, events, "the lines count every refusal")
	assert.LessOrEqual(t, lines, maxLines(elapsed), "in %v", elapsed)
}

// TestServerHandshakeErrorLogLimited opens 300 TLS connections and closes
// them without a handshake: net/http's ErrorLog line for each is limited as
// refusals are, and the lines count every one.
func TestServerHandshakeErrorLogLimited(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "example CA")
	certFile, keyFile := ca.Server(t).Write(t, dir, "server")
	url, logs, stop := start(t, "-tls-cert", certFile, "-tls-key", keyFile, "-log-json")
	begin := time.Now()
	const n = 300
	for range n {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "https://"))
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer c.CloseIdleConnections()
	testserver.Eventually(t, func() bool {
		_, body := get(t, c, url+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`windhover_tls_handshake_duration_seconds_count{error_type="no_client_hello",network_transport="tcp",network_type="ipv4"} %d`, n))
	}, "the handshakes did not all fail")
	require.NoError(t, stop())
	elapsed := time.Since(begin)

	events, lines := logged(jsonLines(t, logs.String()), logKind{"net/http", "tls_handshake_error"}, "http: TLS handshake error from")
	assert.Equal(t, n, events, "the lines count every failed handshake")
	assert.LessOrEqual(t, lines, maxLines(elapsed), "in %v", elapsed)
}

// TestServerKestrelConfig runs the server on an appsettings.json with
// Kestrel's "MaxRequestBodySize": 0 (no body at all) and "AllowedHosts":
// "[::]" (any host), and checks both on the wire: a bodiless request to
// /upload is served, a one-byte body gets 413, and any host name is let
// through.
func TestServerKestrelConfig(t *testing.T) {
	url, _, stop := start(t, "-config", writeConfig(t, `{"Kestrel": {"Limits": {"MaxRequestBodySize": 0}}, "AllowedHosts": "[::]"}`))
	addr := strings.TrimPrefix(url, "http://")
	for _, tt := range []struct {
		req  string
		code int
	}{
		{"POST /upload HTTP/1.1\r\nHost: anything.example\r\nContent-Length: 0\r\n\r\n", 200},
		{"GET / HTTP/1.1\r\nHost: other.example:8080\r\n\r\n", 200},
		{"POST /upload HTTP/1.1\r\nHost: anything.example\r\nContent-Length: 1\r\n\r\nx", 413},
		{"POST /upload HTTP/1.1\r\nHost: anything.example\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 413},
	} {
		c := testserver.Dial(t, addr)
		c.Send(t, tt.req)
		res, _ := c.Response(t)
		assert.Equal(t, tt.code, res.StatusCode, "%q", tt.req)
	}
	require.NoError(t, stop())
}

// TestServerAppsettings runs the server on an ASP.NET Core appsettings.json
// alone: it listens on the file's two endpoints, http and https, with a
// certificate per server name (Sni), and enforces the file's limits,
// AllowedHosts and client certificate modes; a flag given overrides the
// file's setting.
func TestServerAppsettings(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "example CA")
	cert, key := ca.Server(t).Write(t, dir, "server")
	apiCert, apiKey := ca.Server(t, "api.localhost").Write(t, dir, "api")
	settings := fmt.Sprintf(`{
	  "Logging": {"LogLevel": {"Default": "Information"}},
	  "AllowedHosts": "localhost;127.0.0.1;api.localhost",
	  "Kestrel": {
	    "Limits": {"MaxRequestBodySize": 100, "MaxRequestHeaderCount": 20},
	    "Endpoints": {
	      "Http": {"Url": "http://127.0.0.1:0"},
	      "Https": {
	        "Url": "https://127.0.0.1:0",
	        "Certificate": {"Path": %q, "KeyPath": %q},
	        "ClientCertificateMode": "AllowCertificate",
	        "Sni": {"api.localhost": {"Certificate": {"Path": %q, "KeyPath": %q}, "ClientCertificateMode": "RequireCertificate"}}
	      }
	    }
	  },
	  "Windhover": {"ClientCertificates": {"ClientCAs": [%q]}}
	}`, cert, key, apiCert, apiKey, ca.WriteCA(t, dir))
	urls, logs, stop := serve(t, "-config", writeConfig(t, settings), "-max-header-count", "10")
	require.Len(t, urls, 2)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, urls[0])
	require.Regexp(t, `^https://127\.0\.0\.1:\d+$`, urls[1])

	alice := ca.Client(t, "alice")
	client := func(certs ...tls.Certificate) *http.Client {
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), Certificates: certs},
			ForceAttemptHTTP2: true,
		}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	do := func(c *http.Client, method, url, host, body string, header int) (*http.Response, error) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Host = host
		for i := range header {
			req.Header.Set(fmt.Sprintf("X-%d", i), "x")
		}
		res, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}
	for _, tc := range []struct {
		name         string
		client       *http.Client
		method, path string
		url, host    string
		body         string
		header       int
		code         int
	}{
		{"http", client(), "GET", "/", urls[0], "localhost", "", 0, 200},
		{"the body limit", client(), "POST", "/upload", urls[0], "localhost", strings.Repeat("x", 101), 0, 413},
		{"AllowedHosts", client(), "GET", "/", urls[0], "evil.example", "", 0, 400},
		{"-max-header-count over the file's", client(), "GET", "/", urls[0], "localhost", "", 12, 431},
		{"https", client(), "POST", "/upload", urls[1], "localhost", strings.Repeat("x", 100), 0, 200},
		{"allowed, not sent", client(), "GET", "/whoami", urls[1], "localhost", "", 0, 403},
		{"allowed, sent", client(alice.TLS()), "GET", "/whoami", urls[1], "localhost", "", 0, 200},
		{"required, sent", client(alice.TLS()), "GET", "/whoami", urls[1], "api.localhost", "", 0, 200},
		{"required, not sent", client(), "GET", "/", urls[1], "api.localhost", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.host == "api.localhost" {
				tc.client.Transport.(*http.Transport).TLSClientConfig.ServerName = tc.host
			}
			res, err := do(tc.client, tc.method, tc.url+tc.path, tc.host, tc.body, tc.header)
			if tc.code == 0 {
				assert.Error(t, err, "the handshake fails without a certificate (as \"required, sent\" shows, for that reason alone)")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.code, res.StatusCode)
			if res.TLS != nil {
				assert.Equal(t, "HTTP/2.0", res.Proto)
				want := []string{"localhost"}
				if tc.host == "api.localhost" {
					want = append(want, "api.localhost")
				}
				assert.Equal(t, want, res.TLS.PeerCertificates[0].DNSNames, "the certificate of the server name")
			}
		})
	}
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "msg=stopped")
}
