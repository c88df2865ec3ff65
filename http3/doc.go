// Package http3 serves a hardened windhover server over HTTP/3 beside TCP,
// with github.com/quic-go/quic-go, as Kestrel serves Http1AndHttp2AndHttp3
// under one set of limits. It is a module of its own
// (github.com/windhover/windhover/http3), so that quic-go enters only the
// builds that want HTTP/3.
//
//	srv := &http.Server{Handler: mux}
//	s, err := windhover.Harden(srv, cfg)        // cfg.Certificate, or srv.TLSConfig, has a certificate
//	if err != nil { ... }
//	pc, err := net.ListenPacket("udp", ":443")
//	if err != nil { ... }
//	h3, err := http3.New(s, pc, http3.Config{}) // Kestrel's QUIC defaults
//	if err != nil { ... }
//	err = reg.Register(h3.Collector(""))         // beside s.Register(reg)
//	err = s.Run(ctx, tcpListener)                // serves and drains TCP and HTTP/3 together
//
// # One handler, one policy
//
// The HTTP/3 server serves the hardened server's own handler: the composed
// chain of policies, in the same order, with the same state. Every
// handler-level policy therefore answers an HTTP/3 request as it answers
// one over TCP, which the tests prove with quic-go's client: the host
// filter (400), the request line (414), the header count and size (431),
// the body (413, also for a body without a length), the rate (429) and
// concurrency (503) limits, the client certificate policy (403 on a route
// that requires one, 421 for a Host whose mode the handshake did not
// apply), the readiness, liveness and metrics paths, and the request
// metrics (with the route). The QUIC handshakes use the server's TLS
// configuration: its certificates (reloaded from their files), its client
// certificate mode per server name (a host that requires a certificate
// fails the handshake of a client without one; a certificate that fails
// validation fails it too), with "h3" as the protocol and TLS 1.3, as QUIC
// requires.
//
// TLS responses on TCP advertise the endpoint: Alt-Svc: h3=":port";
// ma=86400, as Kestrel sends it (Config.Port if a firewall forwards
// another port).
//
// # Kestrel's limits, mapped onto QUIC
//
//	MaxConcurrentConnections   one limit for TCP and QUIC connections together, as Kestrel's for every
//	MaxConnectionsPerClient    endpoint (limits.Limiter.AcquireConnection): a QUIC connection holds its
//	                           slots from its first Initial packet to its close
//	                           (quic.Transport.ConnContext); one over either limit is refused in its
//	                           handshake (CONNECTION_REFUSED), counted in Stats.Refused and in the
//	                           Limiter's Stats, and reported to OnReject as a *limits.Error (policy
//	                           "limits", reason "connection_limit" or "client_connection_limit")
//	MaxStreamsPerConnection    Config.MaxIncomingStreams, Kestrel's QUIC default of 100 requests at
//	                           once; further requests wait for QUIC's stream credit
//	KeepAliveTimeout           QUIC's idle timeout and HTTP/3's (a connection without requests)
//	RequestHeadersTimeout      quic-go's ReadHeaderTimeout, per request stream: a stream whose
//	                           HEADERS are late is reset (H3_REQUEST_INCOMPLETE)
//	TLS HandshakeTimeout       Config.HandshakeIdleTimeout, 5 s of silence and 10 s in all,
//	                           Kestrel's 10 s
//	MaxRequestHeadersTotalSize as the server's MaxHeaderBytes (limits' bound with its slack), sent to
//	                           clients as SETTINGS_MAX_FIELD_SECTION_SIZE; a header section over it
//	                           gets quic-go's own 431 before the handler, as net/http's over TCP.
//	                           quic-go counts no fields: the limits handler counts them (431)
//	MinRequestBodyDataRate     per stream, through http.ResponseController: quic-go's ResponseWriter
//	MinResponseDataRate        has SetReadDeadline and SetWriteDeadline. A slow body gets 408, a
//	                           client that stops reading has its stream reset; the connection's
//	                           other streams live on, as over HTTP/2
//
// A flood of handshakes from spoofed addresses is met with QUIC's address
// validation: once Config.RetryAbove handshakes are in progress, a new
// client is first sent a Retry (RFC 9000, section 8.1.2), which costs the
// server no state and an honest client one round trip; Stats.Retries counts
// them. 0-RTT is not accepted: its requests can be replayed (Kestrel
// accepts none either).
//
// # The lifecycle
//
// [New] puts the HTTP/3 endpoint under the hardened server's
// graceful.Group: HTTP/3 starts when the Group runs (a socket that fails
// stops the Group as a TCP listener that fails does), serves through the
// drain delay, and drains when the TCP listeners close: GOAWAY on every
// connection, no new connection, the requests in flight finish, and the
// Group waits for them as for its servers' (they count in its Report).
// A connection is closed (H3_NO_ERROR) once it has had no request in the
// handler for two looks 50 ms apart, as net/http's Shutdown closes idle
// connections: a client that keeps one open after GOAWAY does not hold
// the drain to its deadline.
// At the shutdown deadline, or when the stop is forced, every QUIC
// connection still open gets CONNECTION_CLOSE. To the Group the endpoint is
// one more connection while it drains.
//
// # Metrics
//
// [Server.Collector] exports Kestrel's connection instruments for QUIC in
// the families the metrics package gives TCP's, with
// network_transport="udp" (windhover_active_connections,
// windhover_connection_duration_seconds, windhover_active_tls_handshakes,
// windhover_tls_handshake_duration_seconds), and the endpoint's refusals and
// Retry packets under policy="http3" and its policy_name.
//
// # What differs, and why
//
//   - A QUIC connection over the connection limits is refused at once:
//     there is no 503 and no queue, since quic-go cannot hold an Initial
//     packet in a queue. It counts in the limits with the TCP connections,
//     and a slot it frees serves a TCP connection waiting in a queue.
//   - The request line and header fields are counted by the limits handler
//     as it counts an HTTP/1 request after net/http's parse (the method,
//     target and "HTTP/3.0" for the line; each field's name, ": ", value
//     and CRLF), not on the QPACK-decoded fields as Kestrel counts HTTP/3.
//   - No upgrade exists over HTTP/3, so MaxConcurrentUpgradedConnections
//     never applies; an extended CONNECT (RFC 9220) is served as a request.
//   - The drain delay keeps HTTP/3 serving without asking its clients to
//     go: HTTP/3 has no Connection: close, and GOAWAY would also refuse new
//     connections, which the delay exists to accept.
//   - The request metrics leave network_protocol_version out for HTTP/3
//     requests: the metrics package knows 1.0, 1.1 and 2.
package http3
