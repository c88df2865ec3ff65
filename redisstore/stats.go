package redisstore

import (
	"cmp"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// FailureReason is why a call to Redis gave no decision.
type FailureReason int

const (
	// FailureTimeout: no answer within Config.Timeout.
	FailureTimeout FailureReason = iota
	// FailureError: an error other than the timeout (connection refused,
	// an error reply, a reply the Store does not understand).
	FailureError
	// FailureCanceled: the request's own context ended first (its client
	// left, or its deadline passed). It says nothing of Redis and does not
	// start the probe interval; the request gets the context's error.
	FailureCanceled
	// NumFailureReasons is the number of reasons, the length of
	// Stats.Failures.
	NumFailureReasons
)

var failureNames = [NumFailureReasons]string{"timeout", "error", "canceled"}

// String returns the reason's name as the metrics give it: "timeout",
// "error" or "canceled".
func (r FailureReason) String() string {
	if r < 0 || r >= NumFailureReasons {
		return "unknown"
	}
	return failureNames[r]
}

// counters are a Store's, each an atomic add on the path it counts.
type counters struct {
	decided    atomic.Uint64
	skipped    atomic.Uint64
	loads      atomic.Uint64
	recoveries atomic.Uint64
	failures   [NumFailureReasons]atomic.Uint64
	degraded   [numModes]atomic.Uint64
}

// Stats is a snapshot of a Store's counters.
type Stats struct {
	// Decided counts the requests Redis decided.
	Decided uint64
	// Failures counts the calls to Redis that gave no decision, by reason.
	Failures [NumFailureReasons]uint64
	// Degraded counts the requests decided by the Mode without Redis,
	// after a failure or between probes, indexed by [Mode] (only the
	// Store's own is ever non-zero).
	Degraded [numModes]uint64
	// Skipped counts the requests that did not ask Redis because it was
	// thought down (they are among Degraded).
	Skipped uint64
	// ScriptLoads counts the times the server had forgotten the script
	// (NOSCRIPT) and it was sent again.
	ScriptLoads uint64
	// Recoveries counts the times a probe found Redis back.
	Recoveries uint64
	// Down reports whether Redis is thought down at the moment: requests
	// are decided by the Mode but for one a probe interval.
	Down bool
}

// FailuresTotal is the sum of Failures.
func (s Stats) FailuresTotal() uint64 {
	var n uint64
	for _, c := range s.Failures {
		n += c
	}
	return n
}

// Stats returns a snapshot of s's counters. Each is read atomically; the
// snapshot as a whole is not a single instant.
func (s *Store) Stats() Stats {
	st := Stats{
		Decided:     s.decided.Load(),
		Skipped:     s.skipped.Load(),
		ScriptLoads: s.loads.Load(),
		Recoveries:  s.recoveries.Load(),
		Down:        s.retryAt.Load() != 0,
	}
	for i := range st.Failures {
		st.Failures[i] = s.failures[i].Load()
	}
	for i := range st.Degraded {
		st.Degraded[i] = s.degraded[i].Load()
	}
	return st
}

// Collector returns a prometheus.Collector for s's counters, read from
// [Store.Stats] at each scrape, in the style of windhover's metrics
// package, every series with the constant labels policy="redisstore" and
// policy_name=name ("default" if empty):
//
//   - windhover_redisstore_decisions_total: requests Redis decided;
//   - windhover_redisstore_failures_total{reason="timeout"|"error"|"canceled"}:
//     calls that gave no decision;
//   - windhover_redisstore_degraded_total{mode=...}: requests decided by
//     the Mode without Redis, the Store's mode only;
//   - windhover_redisstore_script_loads_total: NOSCRIPT answers;
//   - windhover_redisstore_recoveries_total: probes that found Redis back;
//   - windhover_redisstore_up: 1, or 0 while Redis is thought down.
//
// It lives here rather than in windhover's metrics package, which would
// otherwise depend on this module. For a namespace or constant labels of
// one's own, register it through prometheus.WrapRegistererWithPrefix or
// prometheus.WrapRegistererWith.
func (s *Store) Collector(name string) prometheus.Collector {
	labels := prometheus.Labels{"policy": "redisstore", "policy_name": cmp.Or(name, "default")}
	desc := func(n, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc("windhover_redisstore_"+n, help, variable, labels)
	}
	return &collector{
		s:         s,
		decisions: desc("decisions_total", "Requests the Redis rate store decided."),
		failures:  desc("failures_total", "Calls to Redis that gave no decision, by reason.", "reason"),
		degraded:  desc("degraded_total", "Requests the Redis rate store decided by its mode without Redis.", "mode"),
		loads:     desc("script_loads_total", "Times Redis had forgotten the rate store's script."),
		recovered: desc("recoveries_total", "Probes that found Redis back after a failure."),
		up:        desc("up", "1 while the Redis rate store thinks Redis is up, else 0."),
	}
}

type collector struct {
	s                                                   *Store
	decisions, failures, degraded, loads, recovered, up *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.decisions, c.failures, c.degraded, c.loads, c.recovered, c.up} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.decisions, st.Decided)
	for r, n := range st.Failures {
		counter(c.failures, n, FailureReason(r).String())
	}
	counter(c.degraded, st.Degraded[c.s.mode], c.s.mode.String())
	counter(c.loads, st.ScriptLoads)
	counter(c.recovered, st.Recoveries)
	up := 1.0
	if st.Down {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}
