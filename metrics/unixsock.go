package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/unixsock"
)

// UnixSocket returns a prometheus.Collector for ln's counters, read from
// [unixsock.Listener.Stats] at each scrape:
//
//   - windhover_unixsock_accepted_connections_total: connections accepted;
//   - windhover_unixsock_stale_removed: 1 if a stale socket file was found
//     at the path and removed when ln was opened.
//
// The series carry the socket's path as their policy_name, so that several
// sockets can share a registry, and m's namespace and constant labels.
func (m *Metrics) UnixSocket(ln *unixsock.Listener) prometheus.Collector {
	c := newStatsCollector(m, "unixsock", ln.Addr().String(), ln, ln.Stats)
	c.counter("windhover_unixsock_accepted_connections_total", "Connections accepted on a Unix socket.",
		func(s *unixsock.Stats) uint64 { return s.Accepted })
	c.gauge("windhover_unixsock_stale_removed", "1 if a stale socket file was removed when the socket was opened.",
		func(s *unixsock.Stats) int64 { return int64(s.StaleRemoved) })
	return c
}

// PeerFilter returns a prometheus.Collector for f's counters, read from
// [unixsock.PeerFilter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="unixsock",reason=...}: one series
//     for every [unixsock.Reason], zero included;
//   - windhover_unixsock_admitted_requests_total: requests from admitted
//     peers.
func (m *Metrics) PeerFilter(f *unixsock.PeerFilter, name string) prometheus.Collector {
	c := newStatsCollector(m, "unixsock", name, f, f.Stats)
	for i := range unixsock.NumReasons {
		r := unixsock.Reason(i)
		c.rejections(r.String(), func(s *unixsock.PeerStats) uint64 { return s.Rejected[r] })
	}
	c.counter("windhover_unixsock_admitted_requests_total", "Requests from Unix-socket peers the peer filter admitted.",
		func(s *unixsock.PeerStats) uint64 { return s.Admitted })
	return c
}
