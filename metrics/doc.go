// Package metrics is windhover's window on a net/http server, for
// Prometheus: its requests after OpenTelemetry's HTTP semantic conventions,
// its connections and TLS handshakes after ASP.NET Core Kestrel's
// instruments, and every windhover policy's decisions. It is the only
// windhover package that imports Prometheus; the policies count in atomic
// counters of their own, which this package reads at scrape time.
//
//	m, err := metrics.New(metrics.Config{})
//	if err != nil { ... }
//	reg := prometheus.NewRegistry()
//	err = m.Register(reg, m.Limits(lim, ""), ...)      // or reg.MustRegister(m, ...)
//	srv := &http.Server{Handler: m.Handler(mux)}       // requests
//	err = m.Apply(srv)                                 // connections
//	srv.TLSConfig = m.TLSConfig(tlsConfig)             // TLS handshakes
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Requests
//
// [Metrics.Handler] records, after OpenTelemetry's http.server.request.duration
// and http.server.active_requests, in Prometheus form, with OpenTelemetry's
// descriptions as help, so that a family of the same name from an
// OpenTelemetry exporter stays consistent with windhover's:
//
//	http_server_request_duration_seconds   histogram  http_request_method, http_response_status_code,
//	                                                  http_route, url_scheme, network_protocol_name,
//	                                                  network_protocol_version, error_type
//	http_server_active_requests            gauge      http_request_method, url_scheme
//	http_server_request_body_size_bytes    histogram  as the duration (Config.RequestSizes)
//	http_server_response_body_size_bytes   histogram  as the duration (Config.RequestSizes)
//
// Every label has a bounded set of values, so that no client can make a
// series per request: a method other than the eight of RFC 9110 and PATCH is
// "_OTHER"; the route is the http.ServeMux pattern that served the request
// without its method ("/items/{id}"), or a router's template, never the path; the status is the one
// the handler wrote; network_protocol_name is "http"; error_type is the
// status of a server error (5xx), as OpenTelemetry advises. The body sizes
// are the bytes the handler read and wrote, not the Content-Length a client
// declared.
//
// # Routes
//
// The Handler reads the route from the Pattern of its own request once the
// request is served. A ServeMux sets the Pattern on the request it is
// handed, and windhover's handlers that hand on a copy of a request (limits
// and timeouts for a body, and over HTTP/2 for every request; certauth with
// an identity) set the copy's Pattern back on theirs, as the ServeMux would
// have: behind them, a ServeMux's route is reported over HTTP/1.1 and HTTP/2
// without further wiring. Where the route does not reach the Handler, one
// line reports it:
//
//	h := m.Handler(tracing(m.Route(mux)))    // an application's middleware copies the request
//	cr.Use(m.Route)                          // chi sets the Pattern of its own copy
//	gr.Use(m.RouteFunc(func(r *http.Request) string { // gorilla/mux sets none
//		t, _ := mux.CurrentRoute(r).GetPathTemplate()
//		return t
//	}))
//
// [Metrics.Route] reads the Pattern where it was set; [Metrics.RouteFunc]
// takes the route from the router. Both find the Handler's state through
// the ResponseWriter, so they work behind any middleware that keeps the
// ResponseWriter or wraps it with an Unwrap method. The benchmarks module
// has runnable examples for chi and gorilla/mux.
//
// # Exemplars
//
// [Config.Exemplar] links the duration to a trace: a hook, given each
// request's context, returns the exemplar's labels (the trace id of the span
// the context carries), so that this package needs no OpenTelemetry import.
// Without it the Handler costs what it did.
//
// A label without a value is left out of the series, as OpenTelemetry leaves
// out an attribute it does not know: http_route where no pattern matched (a
// 404, a 405, or no ServeMux), error_type on a success, the status of a
// hijacked connection. Prometheus reads a missing label as an empty one.
//
// # Connections, after Kestrel
//
// Kestrel's meter Microsoft.AspNetCore.Server.Kestrel has one instrument for
// each of these, named here kestrel.x -> windhover_x in Prometheus form:
//
//	windhover_active_connections              gauge      network_transport, network_type         Apply
//	windhover_connection_duration_seconds     histogram  network_transport, network_type,
//	                                                     network_protocol_name, network_protocol_version,
//	                                                     tls_protocol_version, state, error_type  Apply
//	windhover_upgraded_connections            gauge      network_transport, network_type         Handler
//	windhover_tls_handshake_duration_seconds  histogram  network_transport, network_type,
//	                                                     tls_protocol_version, error_type         TLSConfig
//	windhover_active_tls_handshakes           gauge      network_transport, network_type         TLSConfig
//	windhover_rejected_connections_total      counter    policy, policy_name                     Limits
//	windhover_queued_connections              gauge      policy, policy_name                     Limits
//	windhover_queued_requests                 gauge      policy, policy_name                     Concurrency
//
// The transport is "tcp" or "unix", from the listener's address; the network
// type "ipv4" or "ipv6", for TCP. The bucket boundaries are Kestrel's: 10 ms
// to 5 minutes for connections, 5 ms to 10 s for handshakes. Kestrel's
// server.address and server.port are left out: one Prometheus target is one
// server, and ConstLabels can say which listener.
//
// Kestrel labels a connection's duration with the error that ended it, where
// it knows one. net/http does not say why it closes a connection, so instead
// of guessing, state says where in its life the connection closed, as
// net/http's ConnState reported it: "new" (before any request), "active"
// (during or right after one), "idle" (between requests) or "hijacked"; see
// [Metrics.Apply]. The one error this package knows for sure is Kestrel's
// "tls_handshake_failed".
//
// # Policies
//
// [Metrics.Limits], [Metrics.Concurrency], [Metrics.Rate],
// [Metrics.Timeouts], [Metrics.HostFilter], [Metrics.CertAuth],
// [Metrics.UnixSocket], [Metrics.PeerFilter] and [Metrics.Graceful] return
// collectors that read a policy's Stats snapshot at each scrape, so that the
// policy's hot path pays one atomic add per decision and nothing for
// Prometheus. Each takes the policy instance's name, carried with the kind
// of policy on every series it sends:
//
//	windhover_rejections_total{policy="rate",policy_name="login",reason="rate_limited"}
//
// so that any number of policies of one kind share a registry (a global rate
// limiter and a stricter one on /login, two Limiters for two servers). An
// empty name is [DefaultPolicyName]; a second policy of one kind and name on
// one Metrics gets a collector whose registration fails with an error that
// says to name it.
//
// Refusals of requests by every policy meet in windhover_rejections_total,
// one series per reason, zero included: the sum over the family counts each
// refused request once. A refused connection is not a request: it counts in
// windhover_rejected_connections_total (Kestrel's
// kestrel.rejected_connections) alone. Next to it are each policy's own
// series (windhover_min_data_rate_violations_total for the minimum data
// rates, windhover_limits_* for limits' pools, and windhover_concurrency_*,
// windhover_rate_*, windhover_timeouts_*, windhover_hostfilter_*,
// windhover_certauth_*, windhover_unixsock_* and windhover_graceful_* for the
// others; the last show a drain's progress). A certauth policy that asks no
// certificate and trusts no proxy exports only the forwarded headers it
// strips.
//
// # Namespace and labels
//
// [Config.Namespace] prefixes every name ("shop" gives
// shop_http_server_request_duration_seconds) and [Config.ConstLabels] are
// added to every series of m and of the collectors it builds, to tell servers
// apart on one registry: two Metrics in one registry need ConstLabels of the
// same names with values of their own, or Namespaces of their own, as
// Prometheus wants one family's label names the same throughout a registry.
// [Metrics.Register] says so when they are not; reg.Register says only that
// the families conflict. Every family passes promlint, the linter of
// promtool check metrics, as collected and in a scrape's text.
//
// # Cost
//
// The Handler costs one allocation per request (its state, the wrapped
// ResponseWriter included; with RequestSizes and a body, the counting body
// too, in the same allocation) and less than a third of the time of promhttp's
// InstrumentHandlerDuration and InstrumentHandlerCounter together: each
// label tuple's observers are looked up once and then found, without a lock,
// in a map keyed by the request's own values. The active-requests gauge and,
// unless Exemplar is set, the duration histogram spread their counts over
// eight cells on cache lines of their own, picked by the request, and add
// them up at a scrape: requests on different cores do not contend for one
// line (measured on two cores at once: 273 ns a request against 508 ns with
// prometheus.Histogram); a duration series of up to 14 buckets takes 1.2 KiB
// with its labels, where a prometheus.HistogramVec child took 2.0 KiB.
// Connections cost a map entry and a mutex each; the ConnState hook takes a
// record's mutex on each transition.
//
// # Where Go differs
//
// Kestrel measures every connection from within the server; net/http offers
// hooks instead (ConnState, ConnContext, a tls.Config's callbacks), which
// Apply and TLSConfig chain after the user's own. A handshake is timed from
// the accept to the server's verification of it, and recorded when its
// outcome is known.
package metrics
