package metrics

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/stripe"
)

// TestSeriesForRecent holds the series each cell remembers to the ones the
// label tuple names: over random runs of tuples, on several goroutines at
// once (-race), seriesFor returns series' answer every time.
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
			for range 20_000 {
				// Runs of one tuple, as a server sees them, and changes.
				k := keys[rng.IntN(len(keys))]
				for range 1 + rng.IntN(4) {
					if s := m.seriesFor(stripe.Here(), k); s != m.series(k) || s.k != k {
						t.Errorf("seriesFor(%+v) is another tuple's series", k)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestSeriesForRecentAllocs checks that finding the series a cell used last
// allocates nothing.
func TestSeriesForRecentAllocs(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	k := key{pattern: "/", status: 200, method: 1, scheme: 1, proto: 1}
	require.NotNil(t, m.seriesFor(stripe.Here(), k))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = m.seriesFor(stripe.Here(), k) }))
}
