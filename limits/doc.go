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
//	err = lim.Apply(srv)                // MaxHeaderBytes, HTTP/2 limits, ConnState
//	if err != nil { ... }               // the server already allowed more
//	err = srv.Serve(lim.Listener(ln))   // the connection limit
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
//	h = limits.MaxConcurrentUpgradedConnections(100).Handler(h)
//	h = limits.MaxRequestLineSize(8192).Handler(h)
//	h = limits.MaxRequestHeaders(100, 32768).Handler(h)
//	h = limits.MaxRequestBodySize(10 << 20).Handler(h)
//	h = limits.MaxConcurrentRequests(100).Handler(h)
//	h = limits.MaxRequestRate(10, 20).Handler(h) // per client: 10/s, bursts of 20
//
// # How sizes are counted
//
// Exactly as Kestrel counts them, so that a limit of n passes n and refuses
// n+1:
//
//   - the request line is method, target and version with the two spaces
//     between them, without the CRLF; over HTTP/2 it is the sum of the
//     :method, :scheme, :authority and :path values, Kestrel's approximation;
//   - each header field counts its name, ": ", its value and CRLF, and one
//     field line; Host counts over HTTP/1 (over HTTP/2 :authority belongs to
//     the line); the blank line that ends the header is free.
//
// net/http parses the header before any handler runs, so the exact limits are
// checked in the Handler and memory is bounded earlier by
// http.Server.MaxHeaderBytes, which [Limiter.Apply] derives from them (a
// request past that bound, about 44 KB with the defaults, gets net/http's own
// 431 even when its request line is what is too long).
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
// bucket from golang.org/x/time/rate. The client is its address: IPv6
// addresses grouped by /64 (a client given a /64 can use any address in it),
// all Unix-socket peers one key, and X-Forwarded-For or Forwarded believed
// only from configured proxies, read from the right and failing closed (see
// [RateConfig.TrustedProxies]). A Key function keys by anything else: an API
// key, a user, a route. A request over the limit gets 429 with Retry-After and
// the RateLimit and RateLimit-Policy fields of
// draft-ietf-httpapi-ratelimit-headers. The buckets live in a [Store]; the
// default [MemoryStore] bounds the number of keys it tracks, so that a flood of
// new keys cannot grow it, and keeps the buckets of clients that come back.
// A shared store (Redis, say) fits behind the same interface.
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
// for an upgrade over the limit; HTTP/1 connections are closed after each.
// A connection over MaxConcurrentConnections is closed without a reply as in
// Kestrel, answered with a canned 503 ([OverflowRespond503]), or queued
// (ConnectionQueueLength). 503 for a request over the concurrency limit and
// 429 for one over its rate, the connection kept open: those requests are well
// formed, and making their clients reconnect would only add to the load.
// Every refusal is counted in [Limiter.Stats], [ConcurrencyLimiter.Stats] or
// [RateLimiter.Stats] under its [Reason] and passed to the OnReject callback
// as an [*Error].
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
// default of 30,000,000 bytes.
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
