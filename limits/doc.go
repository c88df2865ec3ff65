// Package limits bounds what a client may make a net/http server hold, after
// ASP.NET Core Kestrel's server limits (KestrelServerLimits): open and
// upgraded connections, the request line, the header fields, the request body,
// and the HTTP/2 settings.
//
// # All of Kestrel's limits
//
// A [Config] whose zero value is Kestrel's defaults builds a [Limiter], which
// acts in three places:
//
//	lim, err := limits.New(limits.Config{MaxConcurrentConnections: 10_000})
//	if err != nil { ... }
//	srv := &http.Server{Handler: lim.Handler(mux)}
//	lim.Apply(srv)                      // MaxHeaderBytes, HTTP/2 limits, ConnState
//	err = srv.Serve(lim.Listener(ln))   // the connection limit
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
// # Statuses
//
// 414 for the request line, 431 for the header fields, 413 for the body, 503
// for an upgrade over the limit; HTTP/1 connections are closed after each.
// A connection over MaxConcurrentConnections is closed without a reply as in
// Kestrel, answered with a canned 503 ([OverflowRespond503]), or queued
// (ConnectionQueueLength). Every refusal is counted in [Limiter.Stats] under
// its [Reason] and passed to [Config.OnReject] as an [*Error].
//
// # Request bodies
//
// A body over the limit fails as it is read with *http.MaxBytesError, the
// error http.MaxBytesReader returns, so handlers that already handle it need
// no change. [SetMaxRequestBodySize] lets a handler raise, lower or remove
// the limit until it starts reading, as Kestrel's
// IHttpMaxRequestBodySizeFeature does; [Config.MaxRequestBodySizeFunc] sets a
// per-route limit before the handler runs.
//
// # What Go does differently
//
// Kestrel's MaxRequestBufferSize and MaxResponseBufferSize have no
// counterpart: net/http reads and writes through small fixed buffers and
// leaves backpressure to TCP. Kestrel's Http2 MaxRequestHeaderFieldSize has
// none either; MaxHeaderBytes bounds the whole header list. Kestrel's
// connection limit has no 503 and no queue; both are offered here.
package limits
