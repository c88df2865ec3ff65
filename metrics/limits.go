package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/limits"
)

// Limits returns a prometheus.Collector for l's counters, read from
// [limits.Limiter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="limits",reason=...}: one series for
//     each of the Limiter's reasons that refuse a request (those whose
//     [limits.Reason.Policy] is "limits" and [limits.Reason.Status] is not
//     0: the upgrade, head and body limits and the malformed requests its
//     Listener refuses), zero included, named by its String form;
//   - windhover_rejected_connections_total: Kestrel's
//     kestrel.rejected_connections, the connections refused by the
//     connection limit or its queue, counted here alone;
//   - windhover_limits_rejected_connections_total{reason=...}: the same
//     refused connections by reason, one series for each of the Limiter's
//     reasons that refuse a connection (connection_limit, the queue's,
//     client_connection_limit for MaxConnectionsPerClient), zero included;
//   - windhover_queued_connections: Kestrel's kestrel.queued_connections,
//     connections waiting in l's queue;
//   - windhover_limits_active_connections, windhover_limits_upgraded_connections
//     and windhover_limits_accepted_connections_total: l's connection and
//     upgrade pools (the connections l holds a slot for, which may differ from
//     windhover_active_connections where l is not in front of every one);
//   - windhover_limits_tracked_clients: the clients with a connection open,
//     as MaxConnectionsPerClient counts them;
//   - windhover_limits_retired_connections_total{reason="max_connection_age"
//     or "max_requests_per_connection"}: connections asked to close because
//     they reached MaxConnectionAge or MaxRequestsPerConnection (no
//     refusal: their last request was served).
//
// Every series carries policy="limits" and policy_name=name (or
// [DefaultPolicyName]), m's namespace and constant labels: a second Limiter
// on the same registry needs a name of its own.
func (m *Metrics) Limits(l *limits.Limiter, name string) prometheus.Collector {
	c := limitsCollector(m, "limits", name, l, l.Stats, func(s *limits.Stats) *[limits.NumReasons]uint64 { return &s.Rejected })
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
	for r := range limits.Reason(limits.NumReasons) {
		if r.Policy() == "limits" && r.Status() == 0 {
			c.counter("windhover_limits_rejected_connections_total", "Connections refused by a connection limit or its queue, by reason.",
				func(s *limits.Stats) uint64 { return s.Rejected[r] }, labelReason, r.String())
		}
	}
	c.gauge("windhover_queued_connections", "Connections waiting in a connection queue.",
		func(s *limits.Stats) int64 { return s.QueuedConnections })
	c.gauge("windhover_limits_active_connections", "Connections holding a slot of the connection limit.",
		func(s *limits.Stats) int64 { return s.ActiveConnections })
	c.gauge("windhover_limits_upgraded_connections", "Upgraded connections holding a slot of the upgrade limit.",
		func(s *limits.Stats) int64 { return s.UpgradedConnections })
	c.counter("windhover_limits_accepted_connections_total", "Connections given a slot of the connection limit.",
		func(s *limits.Stats) uint64 { return s.AcceptedConnections })
	c.gauge("windhover_limits_tracked_clients", "Clients with a connection open, as the per-client connection limit counts them.",
		func(s *limits.Stats) int64 { return s.TrackedClients })
	const retired = "windhover_limits_retired_connections_total"
	const retiredHelp = "Connections asked to close after a response because they reached their maximum age or number of requests."
	c.counter(retired, retiredHelp, func(s *limits.Stats) uint64 { return s.ConnectionsRetiredByAge }, labelReason, "max_connection_age")
	c.counter(retired, retiredHelp, func(s *limits.Stats) uint64 { return s.ConnectionsRetiredByRequests }, labelReason, "max_requests_per_connection")
	return c
}

// Concurrency returns a prometheus.Collector for c's counters, read from
// [limits.ConcurrencyLimiter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="concurrency",reason=...}: the
//     concurrency limit and its queue's reasons, zero included;
//   - windhover_queued_requests: Kestrel's kestrel.queued_requests,
//     requests waiting in c's queue;
//   - windhover_concurrency_active_requests: requests holding a slot.
func (m *Metrics) Concurrency(c *limits.ConcurrencyLimiter, name string) prometheus.Collector {
	sc := limitsCollector(m, "concurrency", name, c, c.Stats,
		func(s *limits.ConcurrencyStats) *[limits.NumReasons]uint64 { return &s.Rejected })
	sc.gauge("windhover_queued_requests", "Requests waiting in a request queue for a slot.",
		func(s *limits.ConcurrencyStats) int64 { return s.QueuedRequests })
	sc.gauge("windhover_concurrency_active_requests", "Requests holding a slot of the concurrency limit.",
		func(s *limits.ConcurrencyStats) int64 { return s.ActiveRequests })
	return sc
}

// Rate returns a prometheus.Collector for r's counters, read from
// [limits.RateLimiter.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="rate",reason=...}: rate_limited
//     and rate_store_failed, zero included;
//   - windhover_rate_keys: keys the in-memory store tracks (-1 for another
//     Store), and windhover_rate_evictions_total: keys it evicted to make
//     room.
func (m *Metrics) Rate(r *limits.RateLimiter, name string) prometheus.Collector {
	c := limitsCollector(m, "rate", name, r, r.Stats, func(s *limits.RateStats) *[limits.NumReasons]uint64 { return &s.Rejected })
	c.gauge("windhover_rate_keys", "Keys the rate limiter's in-memory store tracks.",
		func(s *limits.RateStats) int64 { return int64(s.Keys) })
	c.counter("windhover_rate_evictions_total", "Keys the rate limiter's in-memory store evicted to make room.",
		func(s *limits.RateStats) uint64 { return s.Evictions })
	return c
}

// limitsCollector returns a collector for p, one of limits' policies,
// holding already the series of windhover_rejections_total for each reason
// whose [limits.Reason.Policy] is policy and that refuses a request (the
// connection reasons count in windhover_rejected_connections_total alone);
// rejected finds the counts in a snapshot.
func limitsCollector[S any](m *Metrics, policy, name string, p any, stats func() S, rejected func(*S) *[limits.NumReasons]uint64) *statsCollector[S] {
	c := newStatsCollector(m, policy, name, p, stats)
	for r := range limits.Reason(limits.NumReasons) {
		if r.Policy() == policy && r.Status() != 0 {
			c.rejections(r.String(), func(s *S) uint64 { return rejected(s)[r] })
		}
	}
	return c
}
