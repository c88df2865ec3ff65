package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/limits"
)

// Limits returns a prometheus.Collector for l's counters, read from
// [limits.Limiter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="limits",reason=...}: one series for
//     every [limits.Reason], zero included, named by its String form;
//   - windhover_rejected_connections_total: Kestrel's
//     kestrel.rejected_connections, the sum of the reasons that refuse a
//     connection rather than a request;
//   - windhover_queued_connections: Kestrel's kestrel.queued_connections,
//     connections waiting in l's queue;
//   - windhover_limits_active_connections, windhover_limits_upgraded_connections
//     and windhover_limits_accepted_connections_total: l's connection and
//     upgrade pools (the connections l holds a slot for, which may differ from
//     windhover_active_connections where l is not in front of every one).
//
// The series carry m's namespace and constant labels. Register the collector
// next to m; a second Limiter on the same registry needs a label of its own
// (prometheus.WrapRegistererWith).
func (m *Metrics) Limits(l *limits.Limiter) prometheus.Collector {
	c := newStatsCollector(m, "limits", l.Stats)
	for i := range limits.NumReasons {
		r := limits.Reason(i)
		c.rejections(r.String(), func(s *limits.Stats) uint64 { return s.Rejected[r] })
	}
	c.counter("windhover_rejected_connections_total", "Connections refused by a connection limit or its queue.",
		func(s *limits.Stats) uint64 {
			var n uint64
			for i, count := range s.Rejected {
				if limits.Reason(i).Status() == 0 {
					n += count
				}
			}
			return n
		})
	c.gauge("windhover_queued_connections", "Connections waiting in a connection queue.",
		func(s *limits.Stats) int64 { return s.QueuedConnections })
	c.gauge("windhover_limits_active_connections", "Connections holding a slot of the connection limit.",
		func(s *limits.Stats) int64 { return s.ActiveConnections })
	c.gauge("windhover_limits_upgraded_connections", "Upgraded connections holding a slot of the upgrade limit.",
		func(s *limits.Stats) int64 { return s.UpgradedConnections })
	c.counter("windhover_limits_accepted_connections_total", "Connections given a slot of the connection limit.",
		func(s *limits.Stats) uint64 { return s.AcceptedConnections })
	return c
}
