package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/windhover/windhover/certauth"
)

// CertAuth returns a prometheus.Collector for p's counters, read from
// [certauth.Policy.Stats] at each scrape:
//
//   - windhover_rejections_total{policy="certauth",reason=...}: one series
//     for every [certauth.Reason], handshakes and requests, zero included;
//   - windhover_certauth_accepted_requests_total: requests handed on with a
//     validated certificate;
//   - windhover_certauth_forwarded_total{outcome="accepted"|"ignored"}:
//     certificates forwarded by a trusted proxy and accepted, and forwarded
//     headers removed because an untrusted peer sent them;
//   - windhover_certauth_handshakes_total{outcome="accepted"|"failed"}:
//     handshakes whose certificate passed or failed validation;
//   - windhover_certauth_cache_lookups_total{result="hit"|"miss"} and
//     windhover_certauth_cache_entries: the validation cache;
//   - windhover_certauth_crl_reloads_total{outcome="ok"|"failed"}: readings
//     of the CRL files after the first.
//
// A policy that is not [certauth.Policy.Enabled] (it asks no host for a
// certificate and trusts no proxy) can refuse nothing: its collector sends
// only windhover_certauth_forwarded_total{outcome="ignored"}, the forwarded
// headers it removes.
//
// The series carry m's namespace and constant labels, and policy and
// policy_name labels ("certauth" and name, or [DefaultPolicyName]).
func (m *Metrics) CertAuth(p *certauth.Policy, name string) prometheus.Collector {
	c := newStatsCollector(m, "certauth", name, p, p.Stats)
	const fwd = "Client certificates forwarded in a header: accepted from a trusted proxy, or ignored from anyone else."
	if !p.Enabled() {
		c.counter("windhover_certauth_forwarded_total", fwd,
			func(s *certauth.Stats) uint64 { return s.ForwardedIgnored }, "outcome", "ignored")
		return c
	}
	for i := range certauth.NumReasons {
		r := certauth.Reason(i)
		c.rejections(r.String(), func(s *certauth.Stats) uint64 { return s.Rejected[r] })
	}
	c.counter("windhover_certauth_accepted_requests_total", "Requests handed on with a validated client certificate.",
		func(s *certauth.Stats) uint64 { return s.Accepted })
	c.counter("windhover_certauth_forwarded_total", fwd,
		func(s *certauth.Stats) uint64 { return s.ForwardedAccepted }, "outcome", "accepted")
	c.counter("windhover_certauth_forwarded_total", fwd,
		func(s *certauth.Stats) uint64 { return s.ForwardedIgnored }, "outcome", "ignored")
	const hs = "TLS handshakes whose client certificate passed or failed validation."
	c.counter("windhover_certauth_handshakes_total", hs,
		func(s *certauth.Stats) uint64 { return s.HandshakesAccepted }, "outcome", "accepted")
	c.counter("windhover_certauth_handshakes_total", hs,
		func(s *certauth.Stats) uint64 { return s.HandshakeFailures }, "outcome", "failed")
	const lookups = "Lookups of the certificate validation cache."
	c.counter("windhover_certauth_cache_lookups_total", lookups,
		func(s *certauth.Stats) uint64 { return s.CacheHits }, "result", "hit")
	c.counter("windhover_certauth_cache_lookups_total", lookups,
		func(s *certauth.Stats) uint64 { return s.CacheMisses }, "result", "miss")
	c.gauge("windhover_certauth_cache_entries", "Validation results in the certificate cache.",
		func(s *certauth.Stats) int64 { return int64(s.CacheEntries) })
	const crl = "Readings of the CRL files after the first."
	c.counter("windhover_certauth_crl_reloads_total", crl,
		func(s *certauth.Stats) uint64 { return s.CRLReloads - s.CRLReloadFailures }, "outcome", "ok")
	c.counter("windhover_certauth_crl_reloads_total", crl,
		func(s *certauth.Stats) uint64 { return s.CRLReloadFailures }, "outcome", "failed")
	return c
}
