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
			h := newReadAll()
			s := serve(t, pol, h, p)
			body := filepath.Join(t.TempDir(), "body")
			require.NoError(t, os.WriteFile(body, make([]byte, 100_000), 0o600))

			start := time.Now()
			res := testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "2000", "-H", "Expect:", "--data-binary", "@"+body, s.URL)
			if p.IsHTTP2() && res.Exit == 92 {
				// After the 408 the server ends the stream with
				// RST_STREAM(NO_ERROR), as RFC 9113 section 8.1 allows
				// for a request it no longer reads; curl 7.88, still
				// uploading, reports that as a stream error ("Stream
				// error in the HTTP/2 framing layer") and drops the
				// status. The Go client in the unit tests reads the 408.
				assert.Contains(t, res.Trace, "stream 1 closed", res.Trace)
			} else {
				assert.Regexp(t, `^408 `, res.Out, "a tenth of the rate: %s", res.Trace)
			}
			_, readErr := h.result(t)
			assert.ErrorIs(t, readErr, ErrMinRequestBodyDataRate)
			assert.EqualValues(t, 1, pol.Stats().BodyRateViolations)
			assert.Less(t, time.Since(start), 10*time.Second)

			// curl paces its upload in bursts of up to 64 KiB: at a hundred
			// times the rate they come every 33 ms, within the grace period
			// of each other. (At ten times the rate they would come every
			// 330 ms, longer than testRate's 300 ms grace, and a client may
			// bank no more than a grace period ahead of the rate.)
			res = testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "2000000", "-H", "Expect:", "--data-binary", "@"+body, s.URL)
			assert.Regexp(t, `^200 `, res.Out, "a hundred times the rate: %s", res.Trace)
		})
	}
}

func TestCurlSlowDownloadCut(t *testing.T) {
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 300 * time.Millisecond}
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinResponseDataRate: out})
			require.NoError(t, err)
			h := newEndless(false)
			h.size = 50 << 20
			s := serve(t, pol, h, p)
			// A tenth of the rate, read in curl's bursts.
			res := testserver.Curl(t, s, testserver.CurlFlag(p), "--limit-rate", "100000", s.URL)
			assert.NotZero(t, res.Exit, "curl saw the transfer cut short: %s", res.Out)
			written, _, writeErr := h.result(t)
			assert.Error(t, writeErr)
			assert.Less(t, written, int64(50<<20))
			assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)

			// A client at twice the rate is served in full.
			h2 := newEndless(false)
			h2.size = 1 << 20
			s2 := serve(t, pol, h2, p)
			res = testserver.Curl(t, s2, testserver.CurlFlag(p), "--limit-rate", "2000000", s2.URL)
			assert.Zero(t, res.Exit, res.Trace)
			assert.Regexp(t, `^200 `, res.Out)
		})
	}
}
