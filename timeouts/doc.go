// Package timeouts holds a net/http server to Kestrel's timeouts and minimum
// data rates: how long a connection may idle, how long a client may take to
// send a request's header, and how slowly it may send a request body or read
// a response.
//
// # Why rates, not ReadTimeout and WriteTimeout
//
// http.Server's ReadTimeout and WriteTimeout bound a whole request and a
// whole response. Any value short enough to stop an attacker cuts off honest
// large uploads, downloads and streams, so servers leave them at zero; and
// then a client that sends a body or reads a response at one byte a minute
// holds a goroutine, a file descriptor and memory for as long as it likes.
// Kestrel's answer, kept here, is a minimum data rate with a grace period:
// 240 bytes per second after 5 seconds by default, for request bodies and
// responses alike. A fast client moves any amount of data; a slow one is cut
// off once it falls behind the minimum.
//
//	pol, err := timeouts.New(timeouts.Config{})   // Kestrel's defaults
//	if err != nil { ... }
//	srv := &http.Server{Handler: pol.Handler(mux)}
//	if err := pol.Apply(srv); err != nil { ... }   // IdleTimeout 130 s, ReadHeaderTimeout 30 s
//	err = srv.Serve(pol.Listener(ln))              // Kestrel's timers on each request head
//
// [Policy.Apply] refuses a server whose ReadTimeout or WriteTimeout would cut
// off what the rates allow, unless [Config.KeepServerTimeouts] says to keep
// them, and keeps every bound the server already has that is stricter.
//
// # Connection timers
//
// Kestrel gives a new connection KeepAliveTimeout (130 s) to send the first
// byte of a request, and a request RequestHeadersTimeout (30 s) from that
// first byte to the end of its head; between requests, KeepAliveTimeout runs
// again from the response. A connection that sends nothing is closed without
// an answer; a head that is late, also one stopped in the middle of a line,
// gets 408 and Connection: close. net/http has IdleTimeout and
// ReadHeaderTimeout, with other rules: ReadHeaderTimeout runs from the
// accept on a new connection (a client that connects early and sends its
// request later than that is cut), IdleTimeout runs between requests until
// a request's fourth byte, and a late head is closed without a word (or
// answered 400 if it stopped mid-line).
//
// [Policy.Listener] applies Kestrel's rules to each plaintext HTTP/1
// connection, on the bytes as the client sends them, and counts its
// decisions ([Stats.KeepAliveTimeouts], [Stats.RequestHeadersTimeouts]; each
// is reported to [Config.OnReject] with a nil request and a
// [*TimeoutError]). It keeps its own read deadline on the connection only
// while a head is awaited, so the IdleTimeout and ReadHeaderTimeout that
// Apply sets do not cut a wait it allows (a server's own shorter ones, which
// Apply keeps, bound its waits too, as net/http would: it never lets a
// client wait longer than the server alone would); they remain the bounds
// where the Listener cannot see requests: TLS connections (under crypto/tls it sees
// only records, and passes them through), HTTP/2 (with prior knowledge, or
// over TLS), hijacked connections, and servers without the Listener. On such
// a server, the plaintext HTTP/1 requests that reach [Policy.Handler] are
// counted in [Stats.UntimedRequests], and the first is logged through
// log/slog. The Listener stacks with limits.Limiter.Listener in either order
// into one connection wrapper, which reads each head once.
//
// # How the rates are measured
//
// A request body is charged only for the time the handler spends waiting in
// a Read that buffered data cannot satisfy: time the handler spends doing
// anything else is not the client's fault. Once the time charged passes the
// grace period, bytes read divided by time charged must stay at or above the
// minimum. A Read that would break the rate is cut at the moment it would: it
// fails with an error matching [ErrMinRequestBodyDataRate], the client gets
// 408 if the handler wrote nothing, and the connection closes. Over HTTP/2
// only the stream ends and the connection's other streams live on, where
// Kestrel closes the connection.
//
// Kestrel averages over the whole body, so a client can bank credit: one that
// sends 20 KB at once and then stops holds the connection for 20 s against a
// minimum of 1,000 bytes per second, and the early burst of a 30 MB body buys
// hours at the default 240. Here a client may run ahead of the minimum by at
// most one grace period's worth of bytes (BytesPerSecond × GracePeriod);
// bytes beyond that earn nothing. Put another way, once the grace period has
// been charged, the client is cut as soon as, over any stretch of charged
// time, it has fallen more than a grace period's worth of bytes behind the
// minimum. A client that stops sending is therefore cut at most one grace
// period of charged time after the Read that returned its last bytes,
// whatever it sent before; a client whose rate dips below the minimum lasts
// as long as its lead does (at half the rate, up to two grace periods); and
// one that sends above the minimum, in pieces less than a grace period apart,
// is never cut. The bound costs a multiplication a Read and keeps no window of
// samples. Lowering the rate during a body with
// [SetMinRequestBodyDataRate] bounds the credit anew, at the new rate.
//
// A response is charged per write, including the time the client takes to
// read (TCP backpressure and HTTP/2 flow control) but not the time the
// handler takes to produce. A write of n bytes may take max(grace, n/rate);
// writes that follow before the last one's allowance ran out add n/rate to
// the running deadline, without a new grace period. The status line and
// header count as bytes. A write that would overrun the deadline is cut and
// the connection aborted (over HTTP/2, the stream reset). Writes larger than
// 64 KiB, and io.Copy into the response (which keeps sendfile), are timed in
// 64 KiB chunks, so a client that stops reading is noticed within
// max(grace, 64 KiB/rate) of its last progress, plus the lead below.
//
// Kestrel's running deadline banks credit as the request body's average
// does: a client that reads 4 MB at once, against a minimum of 100,000
// bytes per second, pushes the deadline 40 s ahead, and may then stop
// reading for those 40 s (at the default 240, a fast start buys hours).
// Here the running deadline may be at most one grace period ahead of the
// write that begins: what is left of the previous deadline counts for no
// more than GracePeriod, and the write adds its n/rate to that, as Kestrel
// adds it to the whole. A client that stops reading, after any burst, is
// therefore cut at most grace + n/rate after the write that finds it
// stopped began, where n is that write's size (a 64 KiB chunk at most). One
// that reads at or above the minimum keeps a lead of up to a grace period,
// its writes get max(grace, n/rate) and n/rate after one another exactly as
// in Kestrel, and it is never cut, as long as the room its reads make
// reaches the server (TCP window updates, HTTP/2 WINDOW_UPDATE frames) in
// steps less than a grace period apart; a path that stalls longer than
// grace + n/rate ends a connection however far ahead it was, as a request
// body's does. The bound costs one comparison a write.
//
// Small writes that stay in net/http's buffer cannot block; their bytes are
// charged when they leave it. What net/http writes after the handler returns
// (the rest of its buffer, the end of a chunked body) is bounded by a write
// deadline too, reckoned the same way, which net/http enforces itself; such
// a cut is not counted in [Stats].
//
// # Bytes the kernel holds
//
// A write returns once the kernel has the bytes, and Linux grows a socket's
// send buffer to 4 MiB: left alone, a client reading a byte a second would
// have megabytes counted as sent, and with them hours at the minimum rate.
// [Policy.Apply] therefore bounds each TCP connection's unsent bytes to
// 64 KiB (TCP_NOTSENT_LOWAT; [Config.MaxUnsentResponseBytes]), so that writes
// wait for a client as soon as it falls that far behind, and the response
// rate sees it. Bytes in flight are not bounded, so honest clients on long,
// fast paths lose nothing. A connection cut this way may leave its last
// bytes to the kernel, which delivers or drops them on its own; the
// goroutine, the descriptor and the memory of the request are freed at once.
//
// # Better than a heartbeat
//
// Kestrel checks rates on a one-second heartbeat. Here each Read and write
// carries its own deadline, kept by one timer per request that is reset only
// when a deadline draws nearer; when it fires, the operation in progress is
// cut through http.ResponseController's read and write deadlines, which also
// work on HTTP/2 streams. Nothing polls, and nothing goes through an HTTP/2
// connection's serve goroutine except the cut itself.
//
// # Unread request bodies
//
// Over HTTP/1, net/http reads what a handler left of a request body, up to
// 256 KiB, before it writes the response (at the handler's first write that
// reaches the connection, or after the handler returns), and again when it
// closes the body after the response, even one that says "Connection: close".
// It reads at the client's pace, with no deadline unless the server has a
// ReadTimeout: a client that announces a body and never sends it gets no
// answer and holds the connection for as long as it likes. Any handler that
// does not read its body is exposed: a health check, a 404, a 405.
//
// [Policy.Handler] settles the question just before the response's header is
// committed. A body read to its end needs nothing. The rest of a small body
// (under 4 KiB, with a Content-Length) that has arrived, or arrives within
// 50 ms, is read then and set aside for the handler, which may still read it
// after it wrote; the connection is kept. Anything else (a larger or chunked
// rest, a rest that does not arrive in time, a client that sent "Expect:
// 100-continue" and was never asked for the body) gets "Connection: close",
// and if the body is still unread when the handler returns, net/http's last
// read of it fails at once: the client gets its answer at once and the
// connection closes ([Stats.UnreadBodies] counts them). A small body that
// does not arrive within the 50 ms also ends the request's context, as any
// failed read from a client does in net/http. A handler that closes the body
// early only marks it closed; what is left is dealt with in the same way.
//
// Kestrel answers at once too, then reads the rest for up to 5 s to keep the
// connection. net/http writes the response only after its read, so keeping
// a connection would mean delaying every answer; the policy answers at once,
// keeps the connection when the rest is already there, and lets no client
// hold one. Over HTTP/2 the stream ends with the handler, and nothing is
// needed.
//
// # Behind other wrappers
//
// The rates are enforced through http.ResponseController, which reaches
// net/http's writer through the Unwrap methods of the wrappers in front of
// [Policy.Handler]. A middleware whose ResponseWriter has no Unwrap hides it:
// over HTTP/1 the policy then uses the connection that [Policy.Apply] keeps
// in each connection's context. Over HTTP/2 the connection carries other
// streams and cannot be cut for one: such requests, and those of a server
// without Apply, are counted in [Stats.UnenforceableRequests], and the first
// is logged through log/slog. Give such a wrapper an Unwrap method, or put
// the policy's handler outside it.
//
// # OPTIONS *
//
// net/http answers "OPTIONS *" itself, before the server's Handler, unless
// http.Server.DisableGeneralOptionsHandler is set; its body is read there at
// the client's pace. Apply sets that field, and [Policy.Handler] answers such
// a request as net/http would (200, empty), reading its body under the
// request body rate; when the handler it wraps is another windhover policy,
// that one answers.
//
// # Under a debugger
//
// As in Kestrel, the Listener's KeepAliveTimeout and RequestHeadersTimeout
// and both minimum data rates are not enforced while a debugger is attached
// to the process, so that a breakpoint does not get the connections it holds
// cut. A debugger is a ptrace tracer on Linux (delve, gdb, strace), which
// /proc/self/status shows as a non-zero TracerPid, one that sets P_TRACED on
// macOS, and one that IsDebuggerPresent reports on Windows; elsewhere (the
// BSDs) none is detected. The
// process is looked at only when a timer or a rate runs out, at most once a
// second, and the answer kept in two atomics: nothing is added per request.
// A timer or rate that runs out while a debugger is attached is looked at
// again a second later, and enforced then if the debugger is gone, as
// Kestrel's heartbeat enforces it at its next tick. [Config.EnforceWhenDebugged]
// keeps everything enforced. net/http's own IdleTimeout and
// ReadHeaderTimeout, which [Policy.Apply] sets for what the Listener does not
// time (TLS, HTTP/2), know nothing of debuggers and run regardless; so do a
// server's own shorter ones where the Listener enforces them and they end
// the wait no later than the timer (one that ends later than the timer that
// stood down waits for the debugger to go, as the timer does).
//
// # Per request
//
// Inside a handler, [SetMinRequestBodyDataRate] and [SetMinResponseDataRate]
// replace either rate or switch it off with [Off], before or during the
// transfer: for long polling, server-sent events, streaming uploads, and
// anything whose pace the application sets. A hijacked connection (a
// WebSocket) is no longer policed.
package timeouts
