package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/timeouts"
)

// Timeouts returns a prometheus.Collector for p's counters, read from
// [timeouts.Policy.Stats] at each scrape:
//
//   - windhover_min_data_rate_violations_total{direction="request_body"}
//     and {direction="response"}: request bodies and responses cut for a
//     data rate below Kestrel's MinRequestBodyDataRate and
//     MinResponseDataRate;
//   - windhover_timeouts_requests_total and windhover_timeouts_active_requests:
//     the requests p's handler has seen, and those in it now;
//   - windhover_rejections_total{policy="timeouts",reason=...}:
//     keep_alive_timeout (connections of [timeouts.Policy.Listener] closed
//     without a request) and request_headers_timeout (heads answered 408);
//   - windhover_timeouts_untimed_requests_total: plaintext HTTP/1 requests
//     whose connection did not come through the Listener
//     ([timeouts.Stats.UntimedRequests]).
//
// The series carry m's namespace and constant labels.
func (m *Metrics) Timeouts(p *timeouts.Policy, name string) prometheus.Collector {
	const violations = "windhover_min_data_rate_violations_total"
	const help = "Request bodies sent and responses read below the minimum data rate, cut."
	c := newStatsCollector(m, "timeouts", name, p, p.Stats)
	c.counter(violations, help, func(s *timeouts.Stats) uint64 { return s.BodyRateViolations }, labelDirection, "request_body")
	c.counter(violations, help, func(s *timeouts.Stats) uint64 { return s.ResponseRateViolations }, labelDirection, "response")
	c.counter("windhover_timeouts_requests_total", "Requests held to the minimum data rates.",
		func(s *timeouts.Stats) uint64 { return s.RequestsPoliced })
	c.gauge("windhover_timeouts_active_requests", "Requests held to the minimum data rates now.",
		func(s *timeouts.Stats) int64 { return s.ActiveRequests })
	c.rejections("keep_alive_timeout", func(s *timeouts.Stats) uint64 { return s.KeepAliveTimeouts })
	c.rejections("request_headers_timeout", func(s *timeouts.Stats) uint64 { return s.RequestHeadersTimeouts })
	c.counter("windhover_timeouts_untimed_requests_total", "Plaintext HTTP/1 requests whose heads the policy's listener did not time.",
		func(s *timeouts.Stats) uint64 { return s.UntimedRequests })
	return c
}
