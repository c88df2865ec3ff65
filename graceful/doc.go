// Package graceful runs one or more net/http servers under one lifecycle and
// stops them the way ASP.NET Core Kestrel stops: the application is told,
// the load balancer is given time to notice, the requests in flight finish,
// and whatever is still open at the deadline, upgraded connections included,
// is closed.
//
//	g, err := graceful.New(graceful.Config{DrainDelay: 5 * time.Second})
//	if err != nil { ... }
//	mux.Handle("/healthz/ready", g.ReadyHandler())
//	g.Add(&http.Server{Handler: g.Handler(mux)}, tcpListener)
//	g.AddTLS(&http.Server{Handler: g.Handler(mux)}, nil, "cert.pem", "key.pem")
//	g.Add(&http.Server{Handler: g.Handler(mux)}, unixListener)
//	err = g.Run(ctx)   // until ctx ends, SIGINT or SIGTERM
//	rep := g.Report()  // what was in flight, what completed, what was cut
//
// # Kestrel's sequence
//
// [Group.Run] serves every server until its context ends, a configured
// signal arrives (SIGINT and SIGTERM by default), [Group.Shutdown] is
// called, or a server fails. Then, for all servers together:
//
//  1. Stopping. [Group.Stopping] is closed, [Group.Context] ends with the
//     reason as its cause, and the [Group.OnStopping] functions are called:
//     Kestrel's ApplicationStopping. Requests are still served.
//  2. Readiness. [Group.ReadyHandler] answers 503 from this moment on.
//  3. Drain delay. For Config.DrainDelay the listeners stay open and every
//     request is served, so that a load balancer polling readiness takes
//     the instance out of rotation before connections start being refused
//     (aspnetcore #30387; Kestrel has no such delay). Meanwhile
//     [Group.Handler] asks every client to go: HTTP/1.1 responses carry
//     "Connection: close", and an HTTP/2 connection gets GOAWAY with its
//     next response and closes once its streams are done. Clients reconnect
//     through the balancer, which sends them elsewhere. At the end of the
//     delay the responses stop asking, until no connection has been
//     accepted for 100 ms (1 s at most): a client still reconnecting here is
//     then on an open connection, not half-way through connecting, when the
//     listeners close, which would reset it.
//  4. Drain. The listeners of every server close, each once the
//     connections the kernel has completed for it are accepted (its accept
//     queue is empty, as TCP_INFO tells on Linux; 1 s at most), since the
//     close would reset them, requests and all; then responses ask for
//     their connections to be closed again. Once no request has begun for
//     100 ms and every connection accepted has had its first request read
//     (1 s at most), the TCP connections whose clients have still sent not
//     a byte, as the kernel counts them (a browser's speculative
//     preconnect, say; Linux only), are closed, counted in
//     Report.SilentClosed, rather than left for net/http's Shutdown to wait
//     5 s for; a connection with bytes the server has not read yet is left
//     open, since its request may be there. Then every server's Shutdown
//     is called at once: it closes the idle keep-alive connections, none
//     of which has a request on its way then, and HTTP/2 connections get
//     GOAWAY and close once their open streams complete. The group waits for that and for the hijacked
//     connections, for up to Config.ShutdownTimeout (Kestrel's 30 seconds
//     by default), counted from the moment the listeners close.
//  5. Deadline. Whatever is still open is closed: every server's Close,
//     and every hijacked connection the application has not closed.
//  6. Stopped. [Group.Stopped] is closed and the [Report] is final.
//
// A configured signal arriving while stopping, or the end of the context
// given to [Group.Shutdown], jumps to step 5 at once; Run then returns an
// error matching [ErrForced]. A deadline that passes makes Run return
// [ErrShutdownTimeout]. A server that fails to serve (its listener breaks,
// its certificate cannot be loaded) stops the whole group, which drains the
// others; Run returns its error, matching [ErrServe].
//
// # What Go's Shutdown does, and what it does not
//
// http.Server.Shutdown closes the listeners, starts the functions given to
// RegisterOnShutdown (the bundled HTTP/2 server uses one to send GOAWAY),
// then closes idle connections and polls, from every millisecond backing
// off to every 500 ms, until every connection is idle or closed. Keep-alive
// is switched off for the responses that follow. It has no deadline of its
// own: its context is the deadline, and the connections left when it ends
// stay open until Close is called.
//
// Called alone under load, Shutdown loses requests that clients have
// already sent. The listeners close with connections that the kernel has
// accepted and Serve not yet: they are reset. A keep-alive connection is
// idle from the moment its response is written until its next request is
// read, so the close meets a busy client's next request. And once Shutdown
// has begun, net/http drops without an answer any HTTP/1 request it reads,
// on a new connection too (golang/go#65802). The sequence above avoids the
// three: clients are told to go before the listeners close (by
// [Group.Handler]; a server without it tells no one), none is half-way
// through connecting when they close unless new ones keep coming for a
// second, a TCP listener closes with its accept queue empty (Linux; a
// client that connects in the instant between the last look and the close
// is still reset, as is one on a Unix socket), and Shutdown comes once no request is on its way. With wrk
// (HTTP/1.1 keep-alive) loading a server across the whole drain, net/http
// alone fails one request per connection; a group, none.
//
// HTTP/2 gets one GOAWAY, with NO_ERROR and the last stream the server has
// seen; RFC 9113 suggests a first GOAWAY naming the highest stream id and a
// second one after a round trip, so a stream the client opens while the
// GOAWAY is on the wire is discarded, and the client, told the last stream
// processed, retries it on another connection (Go's and browsers' clients
// do; h2load does not, and counts it as an error). The GOAWAY that
// [Group.Handler] asks for is queued before the response that asks for it
// and almost always reaches the client first, so a client that waits for
// each response before it sends the next request has no stream discarded;
// one with several streams in flight may have a few. After its last stream, an
// HTTP/2 connection is closed by the server one second later, which Go
// waits so that a reset does not overtake the GOAWAY: an HTTP/2 drain takes
// at least that second unless the client closes first.
//
// Shutdown neither closes nor waits for hijacked connections (WebSockets and
// other upgrades), and Close does not close them either: once hijacked, a
// connection is the handler's, and the server forgets it. The documentation
// says to notify them through RegisterOnShutdown and wait for them oneself.
// Kestrel tells them through ApplicationStopping and aborts them at the
// timeout. This package does the same for Go:
//
//   - The ConnState hook it chains onto every server sees each connection
//     as it is hijacked (http.StateHijacked, with the hijacked net.Conn) and
//     keeps it.
//   - The application is told through Stopping, Context and OnStopping; the
//     server's own RegisterOnShutdown functions still run.
//   - The drain waits for the hijacked connections as for requests in
//     flight: an application that closes its connections when told ends the
//     drain early. A connection is seen closed by asking its socket (the
//     NetConn chain down to a SyscallConn; syscall.RawConn.Control fails
//     once the socket is closed), checked every few milliseconds while the
//     drain waits, rather than by wrapping every accepted connection, which
//     would hide *net.TCPConn, *net.UnixConn and *tls.Conn from the code
//     that looks for them.
//   - At the deadline, and not before, the group closes the hijacked
//     connections still open, socket first, so that a TLS connection does
//     not wait to send close_notify to a peer that is not reading.
//   - A handler that hijacks during the drain is tracked like any other; one
//     that hijacks after the drain is over (the group has stopped waiting)
//     has its connection closed at once.
//
// A hijacked connection whose socket cannot be reached (a listener whose
// connections offer neither NetConn nor SyscallConn) counts as open until
// the group closes it at the deadline.
//
// # Servers the user built
//
// [Group.Add] takes an http.Server as it is: its ConnState hook is chained
// after the group's, never replaced, and its RegisterOnShutdown functions
// run as usual. Listeners are wrapped so that their Close is called exactly
// once, however many of the group, Serve, Shutdown and Close try. A Unix
// socket listener from net.Listen removes its file on that Close; one whose
// SetUnlinkOnClose(false) was called (an inherited socket) keeps it. TLS
// comes either from [Group.AddTLS], as ServeTLS, or from a TLS listener
// passed to Add; either way HTTP/2 works if ALPN offers it.
//
// Unencrypted HTTP/2 (h2c) should be enabled with http.Server.Protocols and
// SetUnencryptedHTTP2, which Shutdown handles. The older h2c handler of
// golang.org/x/net hijacks each connection and serves HTTP/2 on it, out of
// the server's sight: the group can only wait for such connections until
// the deadline and close them then, without a GOAWAY.
//
// # Counting
//
// Connections are counted by the ConnState hook. Requests are counted only
// by [Group.Handler], a middleware of a few atomic operations that wraps
// nothing: put it outermost on every server whose requests the [Report]
// and [Stats] should count. A handler that hijacks counts as a request in
// flight until it returns.
//
// # Signals
//
// Run installs its signal handler with its own channel (signal.Notify) for
// the configured signals, from its start until it returns, and removes it
// then (signal.Stop), restoring the signals' previous handling. Set
// Config.DisableSignals when the program handles signals itself, and stop
// the group through Run's context or Shutdown.
package graceful
