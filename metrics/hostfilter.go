package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/hostfilter"
)

// HostFilter returns a prometheus.Collector for f's counters, read from
// [hostfilter.Filter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="hostfilter",reason=...}: one series
//     for every [hostfilter.Reason], zero included;
//   - windhover_hostfilter_allowed_requests_total: requests let through.
//
// The series carry m's namespace and constant labels.
func (m *Metrics) HostFilter(f *hostfilter.Filter, name string) prometheus.Collector {
	c := newStatsCollector(m, "hostfilter", name, f, f.Stats)
	for i := range hostfilter.NumReasons {
		r := hostfilter.Reason(i)
		c.rejections(r.String(), func(s *hostfilter.Stats) uint64 { return s.Rejected[r] })
	}
	c.counter("windhover_hostfilter_allowed_requests_total", "Requests whose host the host filter allowed.",
		func(s *hostfilter.Stats) uint64 { return s.Allowed })
	return c
}
