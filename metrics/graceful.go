package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/graceful"
)

// Graceful returns a prometheus.Collector for g's lifecycle and drain, read
// from [graceful.Group.Stats] at each scrape:
//
//   - windhover_graceful_state{state=...}: 1 for the state g is in, 0 for the
//     others (new, serving, stopping, draining, stopped);
//   - windhover_graceful_connections{kind="open"|"hijacked"}: connections
//     open, and hijacked ones the application has not closed;
//   - windhover_graceful_requests_in_flight and
//     windhover_graceful_requests_served_total: requests through
//     [graceful.Group.Handler];
//   - windhover_graceful_forced_closes_total{kind="open"|"hijacked"}:
//     connections closed at the shutdown deadline or by force.
//
// Scraped during a drain, they show its progress. The series carry m's
// namespace and constant labels.
func (m *Metrics) Graceful(g *graceful.Group, name string) prometheus.Collector {
	c := newStatsCollector(m, "graceful", name, g, g.Stats)
	const state = "The lifecycle state of the server group: 1 for the current one."
	for s := graceful.StateNew; s <= graceful.StateStopped; s++ {
		c.gauge("windhover_graceful_state", state, func(st *graceful.Stats) int64 {
			if st.State == s {
				return 1
			}
			return 0
		}, "state", s.String())
	}
	const conns = "Connections open, and hijacked connections the application has not closed."
	c.gauge("windhover_graceful_connections", conns, func(s *graceful.Stats) int64 { return s.Conns }, "kind", "open")
	c.gauge("windhover_graceful_connections", conns, func(s *graceful.Stats) int64 { return s.Hijacked }, "kind", "hijacked")
	c.gauge("windhover_graceful_requests_in_flight", "Requests in flight through the group's handler.",
		func(s *graceful.Stats) int64 { return s.Requests })
	c.counter("windhover_graceful_requests_served_total", "Requests completed through the group's handler.",
		func(s *graceful.Stats) uint64 { return uint64(s.Served) })
	const forced = "Connections closed at the shutdown deadline or by force."
	c.counter("windhover_graceful_forced_closes_total", forced,
		func(s *graceful.Stats) uint64 { return uint64(s.ForcedClosed) }, "kind", "open")
	c.counter("windhover_graceful_forced_closes_total", forced,
		func(s *graceful.Stats) uint64 { return uint64(s.ForcedClosedHijacked) }, "kind", "hijacked")
	return c
}
