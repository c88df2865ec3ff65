package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPiecemeal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", pw); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	url := strings.TrimSpace(strings.TrimPrefix(line, "piecemeal listening on "))

	do := func(host string, body io.Reader) (int, string) {
		method, path := "GET", "/"
		if body != nil {
			method, path = "POST", "/upload"
		}
		req, _ := http.NewRequest(method, url+path, body)
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := do("", nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, "hello\n", body)
	code, body = do("", strings.NewReader(strings.Repeat("x", 1<<20)))
	assert.Equal(t, 200, code)
	assert.Equal(t, "1048576\n", body)
	code, _ = do("", strings.NewReader(strings.Repeat("x", 1<<20+1)))
	assert.Equal(t, 413, code)
	code, body = do("evil.example", nil)
	assert.Equal(t, 400, code)
	assert.Equal(t, "invalid hostname\n", body)

	cancel()
	require.NoError(t, <-done)
}
