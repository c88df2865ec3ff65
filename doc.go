// Package windhover gives any net/http server the protections of ASP.NET
// Core's Kestrel server, as small independent packages that a server adopts
// one line at a time or composes into a hardened server.
//
// The packages, each usable alone:
//
//   - [github.com/windhover/windhover/limits]: what a client may make the
//     server hold. Open and upgraded connections (with Kestrel's close, a 503,
//     or a bounded queue over the limit), the request line (414), header
//     fields (431), request bodies (413, with per-request overrides), and
//     Kestrel's HTTP/2 settings.
//   - [github.com/windhover/windhover/timeouts]: how long it may take.
//     Keep-alive and request header timeouts, and minimum data rates for
//     request bodies and responses (240 bytes per second after 5 seconds),
//     enforced per read and per write, against slowloris, slow-body and
//     slow-read clients, without a WriteTimeout that would cut off honest
//     large transfers.
//
// Planned, in the same shape: hostfilter (allowed Host names), certauth
// (client certificates, per host and route, and from trusted proxies),
// unixsock (Unix-socket listeners and systemd socket activation), graceful
// (draining several servers together) and metrics (Prometheus collectors
// reading every policy's counters).
//
// # How they compose
//
// Each policy acts where net/http gives it a hook, and never replaces a hook
// the server already has:
//
//	listener ─ limits.Listener (connection count)
//	  └ http.Server ─ limits.Apply (MaxHeaderBytes, HTTP/2 settings, ConnState)
//	                  timeouts.Apply (IdleTimeout, ReadHeaderTimeout)
//	      └ limits.Handler (request line, headers, upgrades, body size)
//	          └ timeouts.Handler (request body and response data rates)
//	              └ the application
//
// Every policy counts its decisions in atomic counters offered as a Stats
// snapshot, and takes an optional callback for each refusal; the hot path
// pays an atomic add, and no package depends on a metrics library.
//
// Where Kestrel and Go differ, windhover keeps Kestrel's semantics and
// defaults unless Go can do better, and says so in the package documentation.
package windhover
