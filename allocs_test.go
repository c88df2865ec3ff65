//go:build !race

package windhover_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

// composedAllocBudget is what the whole composition may allocate per GET
// beyond the application: nothing, since timeouts and metrics pool the
// state of a request without a body (issue 14 asked for 1 at most).
// AllocsPerRun truncates its average, so the pools' rare misses after a
// garbage collection do not count.
const composedAllocBudget = 0

// TestComposedAllocs guards the allocations of a GET through every policy
// Harden composes, the rate and concurrency limiters included.
func TestComposedAllocs(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := &http.Server{Handler: app}
	s, err := windhover.Harden(srv, windhover.Config{
		AllowedHosts: []string{"example.com"},
		RateLimit:    &limits.RateConfig{Rate: 1e9, Burst: 1e9},
		Concurrency:  &limits.ConcurrencyConfig{MaxConcurrentRequests: 1024},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://example.com/items/42", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	w := testserver.NewNopWriter()
	serve := func(h http.Handler) func() {
		return func() {
			h.ServeHTTP(w, r)
			clear(w.H)
		}
	}
	bare := testing.AllocsPerRun(1000, serve(app))
	got := testing.AllocsPerRun(1000, serve(srv.Handler))
	if got-bare > composedAllocBudget {
		t.Errorf("the composition allocates %.1f per GET beyond the application's %.1f; budget %d", got-bare, bare, composedAllocBudget)
	}
	t.Logf("composed %.1f, bare %.1f allocations per GET", got, bare)
}
