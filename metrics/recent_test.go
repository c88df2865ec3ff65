package metrics

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeriesForRecent holds the series each stripe remembers to the ones
// the label tuple names: over random runs of tuples and requests, on several
// goroutines at once (-race), seriesFor returns series' answer every time.
func TestSeriesForRecent(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	keys := []key{
		{pattern: "/items/{id}", status: 200, method: 1, scheme: 1, proto: 1},
		{pattern: "/items/{id}", status: 404, method: 1, scheme: 1, proto: 1},
		{pattern: "/items/{id}", status: 200, method: 2, scheme: 1, proto: 1},
		{pattern: "/items/{id}", status: 200, method: 1, scheme: 1, proto: 2},
		{pattern: "/", status: 200, method: 1, scheme: 1, proto: 1},
		{pattern: "/", status: 200, raw: true, method: 1, scheme: 1, proto: 1},
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			reqs := make([]*http.Request, 16)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
			}
			for range 20_000 {
				// Runs of one tuple, as a server sees them, and changes.
				k := keys[rng.IntN(len(keys))]
				for range 1 + rng.IntN(4) {
					if s := m.seriesFor(reqs[rng.IntN(len(reqs))], k); s != m.series(k) || s.k != k {
						t.Errorf("seriesFor(%+v) is another tuple's series", k)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestSeriesForRecentAllocs checks that finding the series a stripe used
// last allocates nothing.
func TestSeriesForRecentAllocs(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	k := key{pattern: "/", status: 200, method: 1, scheme: 1, proto: 1}
	require.NotNil(t, m.seriesFor(r, k))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = m.seriesFor(r, k) }))
}
