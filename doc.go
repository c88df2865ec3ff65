// Package windhover gives any net/http server the protections of ASP.NET
// Core's Kestrel server, as small independent packages that a server adopts
// one line at a time or composes into a hardened server.
//
// The packages, each usable alone:
//
//   - [github.com/windhover/windhover/limits]: what a client may make the
//     server hold. Open and upgraded connections (with Kestrel's close, a 503,
//     or a bounded queue over the limit), connections per client (IPv6 by
//     /64, Unix peers by uid), connection lifetimes (a maximum age and number
//     of requests, so load balancers can rebalance), the request line (414), header
//     fields (431), request bodies (413, with per-request overrides),
//     Kestrel's HTTP/2 settings; and, as ASP.NET Core's rate limiting
//     middleware does, requests in the handlers at once with a queue (503)
//     and per-client token buckets (429 with the IETF RateLimit headers).
//   - [github.com/windhover/windhover/timeouts]: how long it may take.
//     Keep-alive and request header timeouts, and minimum data rates for
//     request bodies and responses (240 bytes per second after 5 seconds),
//     enforced per read and per write, against slowloris, slow-body and
//     slow-read clients, without a WriteTimeout that would cut off honest
//     large transfers; standing down, as Kestrel's do, while a debugger is
//     attached.
//   - [github.com/windhover/windhover/hostfilter]: which Host a request may
//     name (400 otherwise): names, wildcards, IP literals compared as
//     addresses, and CIDR prefixes.
//   - [github.com/windhover/windhover/certauth]: client certificates. Kestrel's
//     modes per host name (SNI), ASP.NET's validation (chain, key usage,
//     validity on every request, CRLs, a cache), 403 per route, and
//     certificates forwarded by a proxy, believed only from trusted peers.
//   - [github.com/windhover/windhover/unixsock]: Unix-socket listeners with the
//     mode and owner asked for from the first moment, stale sockets replaced
//     and live ones left alone, abstract sockets, systemd socket activation,
//     and the peer's credentials in every request.
//   - [github.com/windhover/windhover/graceful]: one lifecycle for several
//     servers, stopped in Kestrel's sequence: a stopping signal, readiness
//     503, an optional drain delay, Shutdown with a timeout, and hijacked
//     connections closed at the deadline.
//   - [github.com/windhover/windhover/metrics]: Prometheus metrics after
//     Kestrel's meter and OpenTelemetry's HTTP conventions, and collectors
//     that read every policy's counters at scrape time.
//
// # One call
//
// [Harden] puts every policy on an existing *http.Server, keeping its
// handler, TLS configuration and hooks, in the one order in which each can
// act; [Config] holds each package's Config as a section, and its zero value
// is Kestrel's defaults. [Server.Run] serves on TCP, TLS and Unix-socket (or
// systemd-activated) listeners and drains on SIGINT and SIGTERM;
// [Server.Register] registers every collector; and [RefusalOf] describes
// any policy's refusal (its policy, reason and status) without a type
// switch:
//
//	srv := &http.Server{Addr: ":8080", Handler: mux}
//	s, err := windhover.Harden(srv, windhover.Config{
//		Limits:       limits.Config{MaxRequestBodySize: 10 << 20},
//		AllowedHosts: []string{"example.com"},
//		ReadyPath:    "/readyz",
//	})
//	if err != nil { ... }                  // names the field, or both values of a conflict
//	err = s.Run(ctx)                       // until ctx ends or SIGTERM, then Kestrel's drain
//
// Config.ReadyPath and Config.MetricsPath are answered before the rate and
// concurrency limits, and readiness before the host filter too, so that a
// load balancer's probe and a scrape get their answer when the server is
// busiest; mount them there rather than in the application's router, which
// is behind every policy.
//
// # How they compose
//
// Each policy acts where net/http gives it a hook, and never replaces a hook
// the server already has:
//
//	unixsock.Listen or net.Listen, or unixsock.Activated (systemd)
//	  └ limits.Listener (connection count, overall and per client, before any
//	    TLS handshake; plaintext HTTP/1 heads measured as sent: 414, 431, 400,
//	    505 at once)
//	      └ timeouts.Listener (the same wrapper: keep-alive timeout until the
//	        first byte, then the request-headers timeout, 408)
//	          └ http.Server  limits.Apply     MaxHeaderBytes, HTTP/2 settings, ConnState,
//	                                          ConnContext (connection lifetimes)
//	                         timeouts.Apply   IdleTimeout, ReadHeaderTimeout, unsent bytes
//	                         certauth.Apply   TLSConfig: client certificates by SNI
//	                         metrics.Apply    connections (TLS handshakes: metrics.TLSConfig)
//	                         hostfilter.Apply "OPTIONS *" through the filter
//	              └ graceful.Handler, metrics.Handler
//	                  └ hostfilter.Handler           400
//	                      └ limits.RateLimiter        429
//	                          └ limits.Limiter         414, 431, 413, 503 for upgrades,
//	                                                   Connection: close (GOAWAY) to retire
//	                              └ limits.ConcurrencyLimiter  503 with a queue
//	                                  └ certauth.Handler        421, 403
//	                                      └ timeouts.Handler     408, slow readers cut
//	                                          └ the application
//	graceful.Group runs the servers and drains them.
//
// Every Apply routes "OPTIONS *" to the server's Handler
// (http.Server.DisableGeneralOptionsHandler), so that it meets the policies,
// and the innermost windhover handler answers it as net/http would. A
// handler of your own between two windhover handlers (a router that sends a
// few paths elsewhere, as examples/server's does) makes the outer one answer
// "OPTIONS *" in place of those behind it, unless it has a method
// HandlesOptionsStar() saying that it hands "OPTIONS *" on to them. No Apply
// makes a server weaker than it was: a stricter setting the server already
// has is kept, and one the policy would have to loosen (a ReadTimeout that
// would cut the minimum data rates, a larger MaxHeaderBytes, a ClientAuth
// stronger than the certificate mode) is an error naming both values.
//
// Knowing the whole chain, Harden lets its policies share two readings of
// the clock a request instead of reading it in each: the rate limiter
// decides at the time metrics read on arrival, as only the host filter runs
// between them; and metrics ends a request's duration at the time timeouts
// read once the application returned, as only windhover's bookkeeping runs
// after (a refusal made after it, of a body nobody read, has metrics read
// the clock again, since it calls OnReject). With the readings goes the
// counter cell metrics took for the request's processor, which the rate
// limiter and timeouts use instead of looking for it again. The same
// packages composed by hand, with handlers of your own between them, read
// the clock each for itself.
//
// An HTTP/2 or HTTP/3 request, which net/http (or quic-go) serves on a new
// goroutine whose stack starts small, is handed by Harden to one of the
// Server's worker goroutines, whose stack has grown already, where the chain
// and the application run: growing a new stack on every request cost more
// than the two goroutine switches (see the README's "Cost"). A panic there
// is logged to the server's ErrorLog with the worker's stack, and raised
// again with the same value on the stream's goroutine, where net/http resets
// the stream as it does for any handler's panic; runtime.Goexit ends the
// stream's goroutine too. A handler that relies on its goroutine ending
// with the request (one that returns locked to its OS thread to have the
// thread thrown away) needs Config.StreamGoroutines.
//
// Every policy counts its decisions in atomic counters offered as a Stats
// snapshot, and takes an optional callback for each refusal; the hot path
// pays an atomic add, and only the metrics package depends on Prometheus.
// examples/server composes all of them, and is the template to copy.
//
// Where Kestrel and Go differ, windhover keeps Kestrel's semantics and
// defaults unless Go can do better, and says so in the package documentation.
package windhover
