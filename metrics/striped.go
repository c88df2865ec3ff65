package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover/internal/stripe"
)

// stripedVec is http_server_request_duration_seconds when no exemplars are
// asked for: every request observes it, so a prometheus.Histogram, whose
// counts share a few cache lines, makes requests on different cores contend
// for them. Each series here spreads its counts over stripe.Cells cells of
// their own lines, one for each processor (stripe.Here), and a scrape adds
// them up. The exposition is a prometheus.Histogram's: the same buckets,
// count, sum and created timestamp.
type stripedVec struct {
	desc  *prometheus.Desc // with every label, as the HistogramVec's
	upper []float64        // the buckets' upper bounds, +Inf excluded

	mu     sync.Mutex
	series []*stripedHistogram
}

// stripedHistogram is one series of a stripedVec.
type stripedHistogram struct {
	vec     *stripedVec
	labels  []string
	created time.Time
	stride  int // words a cell takes: the bucket counts, +Inf's last, then the sum's bits, rounded up to stripe.CellSize
	words   []atomic.Uint64
}

func newStripedVec(desc *prometheus.Desc, upper []float64) *stripedVec {
	return &stripedVec{desc: desc, upper: upper}
}

// with returns a new series with labels, the values of desc's variable
// labels in order. The caller keeps it (Metrics.series caches one per label
// tuple), so each tuple is created once.
func (v *stripedVec) with(labels []string) *stripedHistogram {
	const lineWords = stripe.CellSize / 8
	stride := (len(v.upper) + 2 + lineWords - 1) / lineWords * lineWords
	h := &stripedHistogram{vec: v, labels: labels, created: time.Now(), stride: stride,
		words: make([]atomic.Uint64, stride*stripe.Cells)}
	v.mu.Lock()
	v.series = append(v.series, h)
	v.mu.Unlock()
	return h
}

// observe counts x in cell i (stripe.Here). The count is the buckets' sum,
// so that a scrape always sees a count equal to the +Inf bucket's.
func (h *stripedHistogram) observe(i int, x float64) {
	cell := h.words[int(uint(i)%stripe.Cells)*h.stride:][:len(h.vec.upper)+2]
	cell[sort.SearchFloat64s(h.vec.upper, x)].Add(1)
	sum := &cell[len(h.vec.upper)+1]
	for {
		old := sum.Load()
		if sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+x)) {
			return
		}
	}
}

// Describe sends the description with every label.
func (v *stripedVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect sends each series, its cells added up.
func (v *stripedVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	series := v.series[:len(v.series):len(v.series)]
	v.mu.Unlock()
	n := len(v.upper)
	counts := make([]uint64, n+1)
	for _, h := range series {
		clear(counts)
		var sum float64
		for c := range stripe.Cells {
			cell := h.words[c*h.stride:][:n+2]
			for i := range counts {
				counts[i] += cell[i].Load()
			}
			sum += math.Float64frombits(cell[n+1].Load())
		}
		var count uint64
		buckets := make(map[float64]uint64, n)
		for i, le := range v.upper {
			count += counts[i]
			buckets[le] = count
		}
		count += counts[n]
		ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(v.desc, count, sum, buckets, h.created, h.labels...)
	}
}
