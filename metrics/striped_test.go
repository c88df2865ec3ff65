package metrics

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/stripe"
	"github.com/windhover/windhover/internal/testserver"
)

// TestStripedHistogramMatchesPrometheus: observations on several goroutines
// at once, each in the cell of the processor it runs on, are exposed as a
// prometheus.Histogram given the same values exposes them.
func TestStripedHistogramMatchesPrometheus(t *testing.T) {
	upper := []float64{0.005, 0.01, 0.1, 1}
	desc := prometheus.NewDesc("d_seconds", "help", []string{"a"}, nil)
	vec := newStripedVec(desc, upper)
	h := vec.with([]string{"x"})
	want := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "d_seconds", Help: "help", Buckets: upper})

	values := []float64{0, 0.005, 0.0051, 0.01, 0.05, 0.1, 0.5, 1, 1.5, 100}
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				for _, v := range values {
					h.observe(stripe.Here(), v)
				}
			}
		})
	}
	for range goroutines * rounds {
		for _, v := range values {
			want.Observe(v)
		}
	}
	wg.Wait()

	ch := make(chan prometheus.Metric, 1)
	vec.Collect(ch)
	var got, exp dto.Metric
	require.NoError(t, (<-ch).Write(&got))
	require.NoError(t, want.Write(&exp))
	assert.Equal(t, exp.Histogram.GetSampleCount(), got.Histogram.GetSampleCount())
	assert.InDelta(t, exp.Histogram.GetSampleSum(), got.Histogram.GetSampleSum(), 1e-6)
	require.Len(t, got.Histogram.Bucket, len(exp.Histogram.Bucket))
	for i, b := range exp.Histogram.Bucket {
		assert.Equal(t, b.GetUpperBound(), got.Histogram.Bucket[i].GetUpperBound())
		assert.Equal(t, b.GetCumulativeCount(), got.Histogram.Bucket[i].GetCumulativeCount(), "le=%v", b.GetUpperBound())
	}
	assert.NotNil(t, got.Histogram.CreatedTimestamp)
	assert.Equal(t, "x", got.Label[0].GetValue())
}

// TestStripedHistogramAllocs: an observation allocates nothing.
func TestStripedHistogramAllocs(t *testing.T) {
	h := newStripedVec(prometheus.NewDesc("d", "h", nil, nil), []float64{1}).with(nil)
	assert.Zero(t, testing.AllocsPerRun(100, func() { h.observe(stripe.Here(), 0.5) }))
}

// TestActiveRequestsOneCell: a request goes up and down in one cell of its
// series, even when the Handler hands next a copy of it (RequestSizes with a
// body) and its goroutine moves to another processor between, so that a
// scrape reading the cells one by one never sees the -1 without the +1.
func TestActiveRequestsOneCell(t *testing.T) {
	m, err := New(Config{RequestSizes: true})
	require.NoError(t, err)
	testserver.ServeMoving(m.Handler)
	a := m.activeRequests(methodIndex("POST"), schemeIndex(httptest.NewRequest("POST", "/", nil)))
	testserver.CheckCells(t, "the active requests", &a.n)
}
