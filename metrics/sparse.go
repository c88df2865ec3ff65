package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sparse is a metric vector whose series leave out the labels they have no
// value for, as OpenTelemetry leaves out an attribute it does not know:
// http_route on a request no pattern served, error_type on a success.
// Prometheus reads a missing label as an empty one, so queries see no
// difference; the exposition shows no empty values.
//
// The vector's description, with every label, is what registration checks,
// so that a family of the same name and labels registered elsewhere (an
// OpenTelemetry exporter's, another Metrics' with other constant labels)
// stays consistent with it. At a scrape each series is sent with a
// description of the labels it has: the same name and constant labels, so
// the same descriptor ID, which keeps pedantic registries content.
type sparse struct {
	vec    prometheus.Collector
	desc   *prometheus.Desc
	fqName string
	help   string
	labels []string // variable labels, in the vector's order
	consts prometheus.Labels

	mu       sync.Mutex
	variants map[uint64]*prometheus.Desc // by the mask of labels present
}

func newSparse(vec prometheus.Collector, fqName, help string, labels []string, consts prometheus.Labels) *sparse {
	return &sparse{
		vec: vec, desc: prometheus.NewDesc(fqName, help, labels, consts),
		fqName: fqName, help: help, labels: labels, consts: consts,
		variants: make(map[uint64]*prometheus.Desc),
	}
}

// Describe sends the description with every label.
func (s *sparse) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect sends the vector's series without their empty labels.
func (s *sparse) Collect(ch chan<- prometheus.Metric) {
	in := make(chan prometheus.Metric)
	go func() {
		s.vec.Collect(in)
		close(in)
	}()
	for m := range in {
		ch <- s.wrap(m)
	}
}

// wrap returns m without its empty variable labels.
func (s *sparse) wrap(m prometheus.Metric) prometheus.Metric {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return m
	}
	empty := make(map[string]bool)
	for _, lp := range out.Label {
		if lp.GetValue() == "" && s.variable(lp.GetName()) {
			empty[lp.GetName()] = true
		}
	}
	if len(empty) == 0 {
		return m
	}
	var mask uint64
	present := make([]string, 0, len(s.labels))
	for i, l := range s.labels {
		if !empty[l] {
			mask |= 1 << i
			present = append(present, l)
		}
	}
	s.mu.Lock()
	d, ok := s.variants[mask]
	if !ok {
		d = prometheus.NewDesc(s.fqName, s.help, present, s.consts)
		s.variants[mask] = d
	}
	s.mu.Unlock()
	return sparseMetric{Metric: m, desc: d, empty: empty}
}

// variable reports whether name is one of the vector's variable labels.
func (s *sparse) variable(name string) bool {
	for _, l := range s.labels {
		if l == name {
			return true
		}
	}
	return false
}

// sparseMetric is a series without its empty labels.
type sparseMetric struct {
	prometheus.Metric
	desc  *prometheus.Desc
	empty map[string]bool // the variable labels left out
}

// Desc returns the description of the labels the series has.
func (m sparseMetric) Desc() *prometheus.Desc { return m.desc }

// Write writes the series without its empty variable labels. The label pairs belong
// to the series, so they are filtered into a new slice.
func (m sparseMetric) Write(out *dto.Metric) error {
	if err := m.Metric.Write(out); err != nil {
		return err
	}
	labels := make([]*dto.LabelPair, 0, len(out.Label))
	for _, lp := range out.Label {
		if !m.empty[lp.GetName()] {
			labels = append(labels, lp)
		}
	}
	out.Label = labels
	return nil
}
