// Package limits bounds what a client may make a net/http server hold, after
// ASP.NET Core Kestrel's server limits (KestrelServerLimits): open and
// upgraded connections, the request line, the header fields, the request body,
// and the HTTP/2 settings; and, after ASP.NET Core's concurrency and rate
// limiting middleware, the requests in a handler at once and the rate of each
// client's requests.
//
// # All of Kestrel's limits
//
// A [Config] whose zero value is Kestrel's defaults builds a [Limiter], which
// acts in three places:
//
//	lim, err := limits.New(limits.Config{MaxConcurrentConnections: 10_000})
//	if err != nil { ... }
//	srv := &http.Server{Handler: lim.Handler(mux)}
//	err = lim.Apply(srv)                // MaxHeaderBytes, HTTP/2 limits, ConnState, ConnContext
//	if err != nil { ... }               // the server already allowed more
//	err = srv.Serve(lim.Listener(ln))   // the connection limit, and HTTP/1 heads measured as sent
//
// Apply never makes a server weaker: a setting the user made stricter than
// a limit is kept, and one that allows more is an error matching
// [ErrServerConflict] that names both values, rather than a setting silently
// kept or silently overridden.
//
// # One limit at a time
//
// Each limit also stands alone in one line:
//
//	ln = limits.MaxConcurrentConnections(1000).Listener(ln)
//	ln = limits.MaxConnectionsPerClient(10).Listener(ln)
//	h = limits.MaxConcurrentUpgradedConnections(100).Handler(h)
//	h = limits.MaxRequestLineSize(8192).Handler(h)
//	h = limits.MaxRequestHeaders(100, 32768).Handler(h)
//	h = limits.MaxRequestBodySize(10 << 20).Handler(h)
//	h = limits.MaxConcurrentRequests(100).Handler(h)
//	h = limits.MaxRequestRate(10, 20).Handler(h) // per client: 10/s, bursts of 20
//
// # Connections per client
//
// MaxConnectionsPerClient ([Config.MaxConnectionsPerClient],
// [MaxConnectionsPerClient]) bounds the connections one client holds open at
// once, beside MaxConcurrentConnections, as nginx's limit_conn does; Kestrel
// has no equivalent. A client over it meets ConnectionOverflow (a close, or a
// canned 503) at once, and never the connection queue, so that one client
// can fill neither the server nor its queue: a flood from one address leaves
// the rest of MaxConcurrentConnections to everyone else. The client is the
// immediate peer, grouped as the rate limiter groups it: an IPv4 address, an
// IPv6 /64 (a client given a /64 can use any address in it; see
// ClientIPv4PrefixLen and ClientIPv6PrefixLen), and over a Unix socket the
// peer's uid, which the kernel vouches for (SO_PEERCRED; on systems other
// than Linux every Unix peer is one client). Behind a proxy or a load
// balancer the peer is the proxy, and all its clients count as one: raise
// the limit for it, or leave the limit to the proxy; the PROXY protocol is
// not read. Memory is bounded by the open connections, not by the addresses
// seen: a client is tracked only while it has a connection open, and its
// entry goes with its last connection, so a flood of distinct addresses
// holds at most one entry per connection it holds open, which
// MaxConcurrentConnections bounds; the table gives its memory back once the
// flood is over. Refusals count as [ReasonClientConnectionLimit];
// Stats.TrackedClients is the number of clients with a connection open.
//
// # Connection lifetimes
//
// MaxConnectionAge and MaxRequestsPerConnection ([ConnectionLifetime])
// retire connections, so that a load balancer can spread clients across
// instances again: long-lived keep-alive and HTTP/2 connections otherwise
// stay with the instance they first reached, and a new instance gets none of
// them. The request that reaches a limit (its connection's n-th request, or
// the first that starts after its maximum age) is served, and answered with
// "Connection: close": over HTTP/1 the connection closes after that
// response; over HTTP/2 net/http takes a handler's "Connection: close" as a
// request for a graceful shutdown of the connection, sends GOAWAY (NO_ERROR)
// and closes once the streams already open are done, and the client opens a
// new connection for the next request. Each connection's limits are drawn up
// to 10% lower at random, so that connections opened together (after a
// deploy, a failover) do not all close together. An idle connection is not
// closed by its age: KeepAliveTimeout does that. [Limiter.Apply] starts each
// connection's lifetime (its ConnContext) and [Limiter.Handler] counts its
// requests; retired connections are counted in
// Stats.ConnectionsRetiredByAge and Stats.ConnectionsRetiredByRequests.
// Kestrel has no equivalent.
//
// # How sizes are counted
//
// As Kestrel counts them, so that a limit of n passes n and refuses n+1.
// Where they are counted exactly depends on where the request can be seen:
//
//   - Plaintext HTTP/1.x through [Limiter.Listener]: exact, on the bytes as
//     the client sent them, before net/http parses them. The request line is
//     method, target and version with the two spaces between them and its
//     CRLF ("GET / HTTP/1.1\r\n" passes a limit of 16). Each header field
//     line counts as sent, its CRLF and any whitespace around its value
//     included, and one line toward the count, Host and an empty "Host:"
//     included; the blank line that ends the head is free. A chunked body's
//     trailers count toward the same count and size (their blank line is not
//     free), and its chunk-size lines, extensions and CRLFs toward
//     MaxRequestBodySize with its data. A line or header over its limit gets
//     414 or 431 as soon as the limit is crossed, without waiting for the end
//     of the head, and the connection closes.
//   - HTTP/1.1 over TLS (net/http must see its *tls.Conn, so nothing can sit
//     between the two), and servers started without the Listener
//     (ListenAndServe and [Limiter.Apply]): after net/http's parse, in the
//     Handler. The request line counts its CRLF as well; each field counts
//     its name, ": ", its value and CRLF, whitespace around the value
//     trimmed, an obsolete folded line joined to the one before, an empty
//     Host and the trailers not counted; a chunked body counts its data. The
//     Handler counts such plaintext requests in Stats.InexactHTTP1Requests
//     and logs the first, so that a server that could be exact is not
//     silently approximate.
//   - HTTP/2: exact, in the Handler, as Kestrel counts the fields the client
//     sent: every field, the pseudo-header fields and each cookie crumb
//     included, the length of its name and of its value; the sum of the
//     :method, :scheme, :authority and :path values stands for the request
//     line, Kestrel's approximation.
//
// A route's Limiter behind the Listener's, with limits of its own, measures
// in its Handler, after net/http's parse. Memory is bounded before parsing
// by http.Server.MaxHeaderBytes too, which [Limiter.Apply] derives from the
// limits (a request past that bound, about 44 KB with the defaults, gets
// net/http's own 431 on a server without the Listener, where the wire has not
// refused it first).
//
// # Bad requests
//
// Through [Limiter.Listener], plaintext HTTP/1.x heads that Kestrel refuses
// and net/http would serve, or answer only once they are complete, are
// answered on the wire, and the connection closed: a field line that starts
// with a space or a tab (obsolete line folding; 400), an HTTP/1.1 request
// without Host, with two, or with one that is not a host ("Host: a=b"; 400),
// an absolute-form target whose host differs from Host (400), "*" as the
// target of a method other than OPTIONS (400), HTTP/1.2 to HTTP/1.9 (505),
// an HTTP/1.0 POST or PUT with neither Content-Length nor Transfer-Encoding
// (400, Kestrel's LengthRequiredHttp10).
// A chunked body whose framing is broken fails its Read, and gets 400 if the
// handler writes nothing. Each has its [Reason]. A request with a body is
// never an upgrade, as in Kestrel.
//
// # Requests at once
//
// A [ConcurrencyLimiter] ([NewConcurrencyLimiter], [ConcurrencyConfig]) lets
// MaxConcurrentRequests requests into its handler and queues up to
// RequestQueueLimit more, served oldest first or, as ASP.NET Core's
// QueueProcessingOrder allows, newest first. A queued request waits at most
// RequestQueueTimeout, and leaves the queue at once if its client goes away;
// a request turned away gets 503 with Retry-After. A slot freed goes straight
// to a waiter, never to a newcomer. An upgrade request gives its slot back
// when it hijacks the connection, which MaxConcurrentUpgradedConnections then
// bounds.
//
// # Requests per client
//
// A [RateLimiter] ([NewRateLimiter], [RateConfig]) gives each client a token
// bucket, at a rate given as golang.org/x/time/rate's Limit. The client is its
// address: IPv6 addresses grouped by /64 (a client given a /64 can use any
// address in it), all Unix-socket peers one key, and X-Forwarded-For or
// Forwarded believed only from configured proxies, read from the right and
// failing closed (see [RateConfig.TrustedProxies]). A Key function keys by
// anything else: an API key, a user, a route. A request over the limit gets
// 429 with Retry-After and the RateLimit and RateLimit-Policy fields of
// draft-ietf-httpapi-ratelimit-headers. The buckets live in a [Store]; the
// default [MemoryStore] bounds the number of keys it tracks, so that a flood
// of new keys cannot grow it, keeps the buckets of clients that come back, and
// takes a token without a lock, so that one client's requests on several cores
// do not queue for one. A shared store (Redis, say) fits behind the same
// interface.
//
// Both are types of their own rather than fields of [Config]: like ASP.NET
// Core's, they are middleware one puts on some routes and not others, in an
// order of one's choosing (rate limits first, so that a flooding client is
// turned away before it takes a slot), whereas Config holds the limits of the
// server.
//
// # Statuses
//
// 414 for the request line, 431 for the header fields, 413 for the body, 503
// for an upgrade over the limit, 400 or 505 for the bad requests above;
// HTTP/1 connections are closed after each.
// A connection over MaxConcurrentConnections is closed without a reply as in
// Kestrel, answered with a canned 503 ([OverflowRespond503]), or queued
// (ConnectionQueueLength). 503 for a request over the concurrency limit and
// 429 for one over its rate, the connection kept open: those requests are well
// formed, and making their clients reconnect would only add to the load.
// Every refusal is counted in [Limiter.Stats], [ConcurrencyLimiter.Stats] or
// [RateLimiter.Stats] under its [Reason] and passed to the OnReject callback
// as an [*Error], with its request, or without one for a connection and for
// a head refused on the wire before net/http made a request of it.
//
// # Request bodies
//
// A body over the limit fails as it is read with *http.MaxBytesError, the
// error http.MaxBytesReader returns, so handlers that already handle it need
// no change; a handler that leaves the refusal to the Limiter (writes
// nothing) gets 413 sent for it. A declared Content-Length over the limit
// fails the first Read before a byte is read, so a client that asked for
// "100 Continue" is refused without it; a handler that never reads such a
// body has its connection closed after its answer rather than drained.
// [NoBody] allows no body at all, as Kestrel's MaxRequestBodySize = 0 does,
// and [Unlimited] none, as its null does; Config's zero is Kestrel's
// default of 30,000,000 bytes. Through the Listener a chunked body counts
// its framing, as in Kestrel, with one exception: a body without a byte of
// data is never over the limit (Kestrel, counting the 5 bytes of an empty
// chunked body's framing, would refuse it under a limit below 5), so that
// [NoBody] keeps its word.
// The count includes what net/http has read of the body ahead of the
// handler (at most its 4 KiB buffer), as Kestrel's includes what it has read
// ahead: a body over the limit may fail a Read before the handler has seen
// the bytes that crossed it.
//
// Until the body is first read the limit belongs to the request, as
// Kestrel's IHttpMaxRequestBodySizeFeature does, and the last setting wins
// whatever the order of the handlers: [Config.MaxRequestBodySizeFunc] sets it
// per route in the Limiter's Handler, a limits handler further in (a route's
// own MaxRequestBodySize behind a router, as chi's r.With puts it) replaces
// it, and [SetMaxRequestBodySize] lets the handler raise, lower or remove it.
// Middleware that wraps the body or the ResponseWriter in between (timeouts,
// metrics) does not hide it. After the first Read the limit is fixed.
//
// # OPTIONS *
//
// net/http answers "OPTIONS *" itself, before the Handler, unless
// http.Server.DisableGeneralOptionsHandler is set, which [Limiter.Apply]
// does: the request then meets every limit, the rate and concurrency limits
// included, and the innermost of windhover's handlers answers it as net/http
// would (200, an empty body), so the application never sees it. A handler
// on a server that still answers it itself logs a warning once.
//
// # What Go does differently
//
// Kestrel's MaxRequestBufferSize and MaxResponseBufferSize have no
// counterpart: net/http reads and writes through small fixed buffers and
// leaves backpressure to TCP. Kestrel's Http2 MaxRequestHeaderFieldSize has
// none either; MaxHeaderBytes bounds the whole header list. Kestrel's
// connection limit has no 503 and no queue; both are offered here. ASP.NET
// Core's request queue waits as long as the client does; here the wait is
// bounded. Its rate limiter partitions by whatever key the application
// computes; here the client address is found, grouped and trusted the same way
// everywhere, and the number of keys tracked is bounded.
package limits
