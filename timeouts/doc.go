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
// off once its average falls below the minimum.
//
//	pol, err := timeouts.New(timeouts.Config{})   // Kestrel's defaults
//	if err != nil { ... }
//	srv := &http.Server{Handler: pol.Handler(mux)}
//	pol.Apply(srv)   // IdleTimeout 130 s, ReadHeaderTimeout 30 s
//
// # How the rates are measured
//
// A request body is charged only for the time the handler spends waiting in
// a Read: time the handler spends doing anything else is not the client's
// fault. Once the time charged passes the grace period, bytes read divided by
// time charged must stay at or above the minimum. A Read that would break the
// rate is cut at the moment it would: it fails with an error matching
// [ErrMinRequestBodyDataRate], the client gets 408 if the handler wrote
// nothing, and the connection closes. Over HTTP/2 only the stream ends and
// the connection's other streams live on, where Kestrel closes the
// connection.
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
// max(grace, 64 KiB/rate) of its last progress. Small writes that stay in
// net/http's buffer cannot block; their bytes are charged when they leave
// it. What net/http writes after the handler returns (the rest of its
// buffer, the end of a chunked body) is bounded by a write deadline too,
// which net/http enforces itself; such a cut is not counted in [Stats].
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
// # Per request
//
// Inside a handler, [SetMinRequestBodyDataRate] and [SetMinResponseDataRate]
// replace either rate or switch it off with [Off], before or during the
// transfer: for long polling, server-sent events, streaming uploads, and
// anything whose pace the application sets. A hijacked connection (a
// WebSocket) is no longer policed.
package timeouts
