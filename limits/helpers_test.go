package limits

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// The protocols, by their short names.
const (
	h1    = testserver.H1
	h1tls = testserver.H1TLS
	h2tls = testserver.H2
	h2c   = testserver.H2C
)

type proto = testserver.Proto

var allProtos = testserver.All

var (
	dial          = testserver.Dial
	eventually    = testserver.Eventually
	checkNoLeaks  = testserver.CheckNoLeaks
	startServer   = testserver.Start
	quietServerOf = func(t testing.TB, lim *Limiter) testserver.Setup {
		return func(ts *httptest.Server) {
			require.NoError(t, lim.Apply(ts.Config))
			ts.Listener = lim.Listener(ts.Listener)
		}
	}
)

// serve starts h behind lim (its Handler, Apply and Listener), or bare if lim
// is nil, speaking p.
func serve(t testing.TB, lim *Limiter, h http.Handler, p proto) *testserver.Server {
	t.Helper()
	if lim == nil {
		return startServer(t, h, p)
	}
	return startServer(t, lim.Handler(h), p, quietServerOf(t, lim))
}

// hello answers "hello\n".
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello\n")
})

// headerOfSize returns n header fields named X-Hnnn with values padded so
// that the fields total size bytes as Kestrel counts them (at least 12 bytes
// each).
func headerOfSize(n, size int) http.Header {
	h := http.Header{}
	per := size / n
	for i := range n {
		name := fmt.Sprintf("X-H%03d", i)
		valueLen := per - len(name) - fieldOverhead
		if i == n-1 {
			valueLen += size - per*n
		}
		h[name] = []string{strings.Repeat("v", valueLen)}
	}
	return h
}
