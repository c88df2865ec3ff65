package metrics

import (
	"fmt"
	"maps"

	"github.com/prometheus/client_golang/prometheus"
)

// The metric every policy reports its refusals of requests in, one series
// per reason, told apart by constant policy and policy_name labels so that
// each policy's collector registers on its own.
const (
	nameRejections = "windhover_rejections_total"
	helpRejections = "Requests a windhover policy refused, by policy, policy name and reason."
)

// DefaultPolicyName is the policy_name of a policy's series when its
// collector is given no name.
const DefaultPolicyName = "default"

// statsCollector is the prometheus.Collector of one policy's counters. At
// each scrape it takes one snapshot with stats and sends every value it was
// given as a constant metric, so the policy pays nothing between scrapes
// beyond its own atomic counters. A collector for a policy is a few lines:
//
//	c := newStatsCollector(m, "hostfilter", name, f, f.Stats)
//	c.rejections("host_not_allowed", func(s *hostfilter.Stats) uint64 { return s.Refused })
//	c.counter("windhover_hostfilter_requests_total", "Requests hostfilter checked.",
//		func(s *hostfilter.Stats) uint64 { return s.Checked })
//	return c
type statsCollector[S any] struct {
	m      *Metrics
	policy string
	name   string
	err    error // a second policy of this kind and name on m
	stats  func() S
	descs  map[string]*prometheus.Desc
	order  []*prometheus.Desc
	values []statValue[S]
}

// statValue is one series of a statsCollector.
type statValue[S any] struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	value  func(*S) float64
	labels []string
}

// newStatsCollector returns an empty collector for p, a policy of kind
// policy named name ("" for [DefaultPolicyName]), whose counters stats
// returns. A second policy of one kind and name on m gets a collector whose
// registration fails with an error that says to name it.
func newStatsCollector[S any](m *Metrics, policy, name string, p any, stats func() S) *statsCollector[S] {
	if name == "" {
		name = DefaultPolicyName
	}
	c := &statsCollector[S]{m: m, policy: policy, name: name, stats: stats, descs: make(map[string]*prometheus.Desc)}
	key := policy + "\x00" + name
	m.policiesMu.Lock()
	defer m.policiesMu.Unlock()
	if m.policies == nil {
		m.policies = make(map[string]any)
	}
	if m.names == nil {
		m.names = make(map[any]string)
	}
	prev, taken := m.policies[key]
	had, named := m.names[p]
	switch {
	case taken && prev != p:
		c.err = fmt.Errorf("windhover/metrics: a second %s policy named %q on one Metrics; "+
			"give each its own name, the last argument of the collector's method (m.X(policy, \"name\")), which becomes the label policy_name", policy, name)
	case named && p != nil && had != name:
		// Under two names, each of its events would count twice.
		c.err = fmt.Errorf("windhover/metrics: the %s policy named %q already has the name %q on this Metrics; give it one name", policy, name, had)
	default:
		m.policies[key] = p
		if p != nil {
			m.names[p] = name
		}
	}
	return c
}

// rejections adds the series of windhover_rejections_total for one reason.
func (c *statsCollector[S]) rejections(reason string, count func(*S) uint64) {
	c.add(nameRejections, helpRejections, prometheus.CounterValue,
		func(s *S) float64 { return float64(count(s)) }, labelReason, reason)
}

// counter adds a counter series; labels are name, value pairs.
func (c *statsCollector[S]) counter(name, help string, count func(*S) uint64, labels ...string) {
	c.add(name, help, prometheus.CounterValue, func(s *S) float64 { return float64(count(s)) }, labels...)
}

// gauge adds a gauge series; labels are name, value pairs.
func (c *statsCollector[S]) gauge(name, help string, value func(*S) int64, labels ...string) {
	c.add(name, help, prometheus.GaugeValue, func(s *S) float64 { return float64(value(s)) }, labels...)
}

// add adds a series. Series of one name share a description, which the
// first of them sets.
func (c *statsCollector[S]) add(name, help string, kind prometheus.ValueType, value func(*S) float64, labels ...string) {
	names := make([]string, 0, len(labels)/2)
	values := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		names = append(names, labels[i])
		values = append(values, labels[i+1])
	}
	d, ok := c.descs[name]
	if !ok {
		all := make(prometheus.Labels, len(c.m.s.constLabels)+2)
		maps.Copy(all, c.m.s.constLabels)
		all[labelPolicy], all[labelPolicyName] = c.policy, c.name
		d = prometheus.NewDesc(prometheus.BuildFQName(c.m.s.namespace, "", name), help, names, all)
		c.descs[name] = d
		c.order = append(c.order, d)
	}
	c.values = append(c.values, statValue[S]{desc: d, kind: kind, value: value, labels: values})
}

// nameError returns the error of a policy given a name another one has, or
// a second name: its registration fails with it.
func (c *statsCollector[S]) nameError() error { return c.err }

// Describe sends the descriptions of the collector's metrics.
func (c *statsCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	if c.err != nil {
		ch <- prometheus.NewInvalidDesc(c.err)
		return
	}
	for _, d := range c.order {
		ch <- d
	}
}

// Collect takes one snapshot and sends every series.
func (c *statsCollector[S]) Collect(ch chan<- prometheus.Metric) {
	if c.err != nil {
		return
	}
	s := c.stats()
	for _, v := range c.values {
		metric, err := prometheus.NewConstMetric(v.desc, v.kind, v.value(&s), v.labels...)
		if err != nil {
			metric = prometheus.NewInvalidMetric(v.desc, err)
		}
		ch <- metric
	}
}
