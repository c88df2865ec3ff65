//go:build integration

package limits

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	// The handler leaves the refusal of its failed first Read to the
	// Limiter, which answers 413.
	s := serve(t, lim, echoLen(true, nil), h1)
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

// responseFields returns the response header fields in curl's verbose trace,
// names in lower case.
func responseFields(trace string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(trace, "\n") {
		if field, ok := strings.CutPrefix(strings.TrimSpace(line), "< "); ok {
			if name, value, ok := strings.Cut(field, ": "); ok {
				fields[strings.ToLower(name)] = value
			}
		}
	}
	return fields
}

func TestCurlRateLimited(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := NewRateLimiter(RateConfig{Rate: 0.1, Burst: 1, HeadersOnAllowed: true})
			require.NoError(t, err)
			s := serve(t, nil, lim.Handler(hello), p)
			flag := testserver.CurlFlag(p)
			status, trace := curl(t, s, flag, s.URL+"/")
			assert.Equal(t, "200", strings.Fields(status)[0])
			assert.Equal(t, `"default";r=0;t=10`, responseFields(trace)["ratelimit"])

			status, trace = curl(t, s, flag, s.URL+"/")
			assert.Equal(t, "429", strings.Fields(status)[0])
			fields := responseFields(trace)
			assert.Equal(t, "10", fields["retry-after"])
			assert.Equal(t, `"default";q=1;w=10`, fields["ratelimit-policy"])
			assert.Equal(t, `"default";r=0;t=10`, fields["ratelimit"])
		})
	}
}

func TestCurlConcurrencyLimit503(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := NewConcurrencyLimiter(ConcurrencyConfig{MaxConcurrentRequests: 1, RequestQueueLimit: 1, RequestQueueTimeout: 200 * time.Millisecond})
			require.NoError(t, err)
			release := make(chan struct{})
			entered := make(chan struct{}, 1)
			s := serve(t, nil, lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
			})), p)
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, err := s.Client.Get(s.URL + "/")
				if err == nil {
					res.Body.Close()
				}
			}()
			<-entered
			status, trace := curl(t, s, testserver.CurlFlag(p), s.URL+"/")
			assert.Equal(t, "503", strings.Fields(status)[0])
			assert.Equal(t, "1", responseFields(trace)["retry-after"])
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonRequestQueueTimeout])
			close(release)
			<-done
		})
	}
}
