package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the server with args on a free port and returns its base URL
// and a function that stops it and returns run's error.
func start(t *testing.T, args ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "logs: %s", logs)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := strings.TrimSpace(strings.TrimPrefix(line, "windhover example server listening on "))
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), line)
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

	res, err := c.Get(url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "hello\n", string(body))

	res, err = c.Post(url+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 100)))
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "100\n", string(body))

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
