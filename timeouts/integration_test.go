//go:build integration

package timeouts

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// curl's --limit-rate paces both its upload and its download: a real client
// that is slow on purpose.

func TestCurlSlowUploadGets408(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: testRate})
			require.NoError(t, err)
			s := serve(t, pol, newReadAll(), p)
			body := filepath.Join(t.TempDir(), "body")
			require.NoError(t, os.WriteFile(body, make([]byte, 100_000), 0o600))

			start := time.Now()
			res := testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "2000", "-H", "Expect:", "--data-binary", "@"+body, s.URL)
			assert.Regexp(t, `^408 `, res.Out, "a tenth of the rate: %s", res.Trace)
			assert.Less(t, time.Since(start), 10*time.Second)

			res = testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "200000", "-H", "Expect:", "--data-binary", "@"+body, s.URL)
			assert.Regexp(t, `^200 `, res.Out, "ten times the rate: %s", res.Trace)
		})
	}
}

func TestCurlSlowDownloadCut(t *testing.T) {
	out := Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond}
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinResponseDataRate: out})
			require.NoError(t, err)
			h := newEndless(false)
			h.size = 50 << 20
			s := serve(t, pol, h, p)
			res := testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "5000", s.URL)
			assert.NotZero(t, res.Exit, "curl saw the transfer cut short: %s", res.Out)
			written, _, writeErr := h.result(t)
			assert.Error(t, writeErr)
			assert.Less(t, written, int64(50<<20))
			assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)

			// A client at twice the rate is served in full.
			h2 := newEndless(false)
			h2.size = 1 << 20
			s2 := serve(t, pol, h2, p)
			res = testserver.Curl(t, s2, testserver.CurlFlag(p), "--limit-rate", "400000", s2.URL)
			assert.Zero(t, res.Exit, res.Trace)
			assert.Regexp(t, `^200 `, res.Out)
		})
	}
}
