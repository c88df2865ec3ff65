//go:build integration

package limits

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// curl runs the real curl against a test server and returns the status it
// printed and its verbose trace, failing the test if curl failed.
func curl(t *testing.T, s *testserver.Server, args ...string) (status, trace string) {
	t.Helper()
	res := testserver.Curl(t, s, args...)
	require.Zero(t, res.Exit, "curl: %s", res.Trace)
	return res.Out, res.Trace
}

func TestCurlUploadOverLimitGetsNo100Continue(t *testing.T) {
	lim, err := New(Config{MaxRequestBodySize: 1 << 20})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(false, nil), h1)
	big := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(big, make([]byte, 2<<20), 0o600))

	status, trace := curl(t, s, "--data-binary", "@"+big, s.URL+"/upload")
	assert.Equal(t, "413 1.1", status)
	assert.Contains(t, trace, "Expect: 100-continue", "curl asked before sending 2 MiB")
	assert.NotContains(t, trace, "HTTP/1.1 100", "the server refused instead of inviting the body")

	small := filepath.Join(t.TempDir(), "small")
	require.NoError(t, os.WriteFile(small, make([]byte, 1<<20), 0o600))
	status, _ = curl(t, s, "--data-binary", "@"+small, s.URL+"/upload")
	assert.Equal(t, "200 1.1", status)
}

func TestCurlHTTP2Limits(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			flag := "--http2"
			if p == h2c {
				flag = "--http2-prior-knowledge"
			}
			status, _ := curl(t, s, flag, s.URL+"/")
			assert.Equal(t, "200 2", status)

			var headers []string
			for i := range 101 {
				headers = append(headers, "-H", "X-F"+strings.Repeat("x", i%7)+itoa3(i)+": v")
			}
			status, _ = curl(t, s, append(append([]string{flag}, headers...), s.URL+"/")...)
			assert.Equal(t, "431 2", status, "101 fields besides curl's own")

			status, _ = curl(t, s, flag, s.URL+"/"+strings.Repeat("a", 9000))
			assert.Equal(t, "414 2", status)
		})
	}
}

func TestCurlUpgradeRefused(t *testing.T) {
	lim, err := New(Config{MaxConcurrentUpgradedConnections: NoUpgrades})
	require.NoError(t, err)
	s := serve(t, lim, echoUpgrade(nil), h1)
	status, _ := curl(t, s, "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", s.URL+"/ws")
	assert.Equal(t, "503 1.1", status)
}

func TestCurlConnectionLimit503(t *testing.T) {
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionOverflow: OverflowRespond503})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	holdConns(t, lim, s, 1)
	status, trace := curl(t, s, s.URL+"/")
	assert.Equal(t, "503 1.1", status)
	assert.Contains(t, trace, "Connection: close")
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}
