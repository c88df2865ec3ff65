package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"
)

// Apply puts l's server-side limits on srv, or returns an error and changes
// nothing if srv already allows more than one of them. Call it once per
// server, before the server starts.
//
// Apply never makes srv weaker. A field left zero gets the limit; a field the
// user set is kept if it is as strict as the limit or stricter (net/http then
// refuses, with its own bare answer, what the limit would still have let
// through); a field that allows more than the limit, or that net/http would
// replace with a laxer default, is a conflict: the error, which matches
// [ErrServerConflict], names both values and the fix, and lists every
// conflict at once. What Apply sets:
//
//   - MaxHeaderBytes: MaxRequestLineSize + MaxRequestHeadersTotalSize, with
//     room for the line ends and for HTTP/2's 32-byte overhead per field, so
//     that memory is bounded before parsing while the exact limits are left
//     to the Handler. A larger MaxHeaderBytes would not let a request past
//     the Handler's 431, but it would let every connection make the server
//     buffer and parse more header bytes than the limits allow, which is what
//     they are for: it is a conflict. On Go 1.27 and later
//     MaxHeaderValueCount is set, for the same reason and with the same
//     rule, just above MaxRequestHeaderCount.
//   - HTTP2: Kestrel's HTTP/2 limits, each field at most the limit:
//     MaxConcurrentStreams, MaxDecoderHeaderTableSize, MaxReadFrameSize,
//     MaxReceiveBufferPerConnection and MaxReceiveBufferPerStream bound what
//     a client may make the server hold; PingTimeout, and SendPingTimeout if
//     HTTP2.KeepAlivePingDelay is set, how long a dead connection is kept.
//     A configuration the user set is copied, not modified; its other fields
//     are kept.
//   - DisableGeneralOptionsHandler: true, so that "OPTIONS *" requests reach
//     the Handler and its limits rather than net/http's built-in answer.
//   - ConnContext gets a hook, chained after any hook already there, that
//     starts each connection's lifetime, if l retires connections
//     (MaxConnectionAge, MaxRequestsPerConnection): its birth, its request
//     count and its own limits, drawn with their jitter, which the Handler
//     then counts against.
//   - ConnContext gets a hook, chained after those, that brings the
//     connection of [Limiter.Listener] to the Handler, so that a head the
//     Listener measured as sent is not measured again after net/http's
//     parse, and a chunked body counts its framing. Without the Listener
//     (ListenAndServe), the Handler measures after the parse and counts
//     such requests in Stats.InexactHTTP1Requests.
//   - ConnState gets a hook, chained after any hook already there, that
//     enforces MaxConcurrentConnections and MaxConnectionsPerClient on
//     connections that did not come through l's Listener: the way to limit a server started with
//     ListenAndServe or ListenAndServeTLS. Such a connection over the limit is
//     closed before any byte is read, before the TLS handshake. Because
//     ConnState cannot see a hijacked connection close, one leaves the pool
//     when it is hijacked; wrap the listener with [Limiter.Listener] to keep
//     hijacked connections counted, and to queue or answer 503.
//
// A Limiter for one limit (MaxRequestBodySize, say) sets only
// DisableGeneralOptionsHandler, ConnContext for the head and body limits,
// and ConnState for MaxConcurrentConnections.
func (l *Limiter) Apply(srv *http.Server) error {
	var a applier
	headerBytes, valueCount := srv.MaxHeaderBytes, 0
	var h2 *http.HTTP2Config
	if l.policies&serverPolicy != 0 {
		headerBytes, valueCount = l.headerBounds(&a, srv)
		h2 = l.http2Config(&a, srv.HTTP2)
	}
	if err := errors.Join(a.errs...); err != nil {
		return err
	}
	srv.MaxHeaderBytes = headerBytes
	if valueCount != 0 {
		setHeaderValueCount(srv, valueCount)
	}
	if h2 != nil {
		srv.HTTP2 = h2
	}
	srv.DisableGeneralOptionsHandler = true
	// The lifetime first: the values the next hook makes are then the
	// context's last, which the policies Applied after l fill (connctx).
	if l.hasLifetime() {
		prev := srv.ConnContext
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if prev != nil {
				ctx = prev(ctx, c)
			}
			return l.lifetimeContext(ctx)
		}
	}
	if l.policies&(headPolicy|bodyPolicy) != 0 {
		prev := srv.ConnContext
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if prev != nil {
				ctx = prev(ctx, c)
			}
			return connContext(ctx, c)
		}
	}
	if l.policies&connectionPolicy != 0 {
		prev := srv.ConnState
		srv.ConnState = func(c net.Conn, state http.ConnState) {
			l.track(c, state)
			if prev != nil {
				prev(c, state)
			}
		}
	}
	return nil
}

// http2FieldOverhead is what HTTP/2 adds to each header field when it sizes a
// header list (RFC 9113, section 6.5.2).
const http2FieldOverhead = 32

// headerValueCountSlack leaves the exact header count to the Handler: a
// request one field over the limit must reach it to get Kestrel's answer.
const headerValueCountSlack = 8

// headerBounds returns the MaxHeaderBytes srv should have, and the
// MaxHeaderValueCount to set (0: leave it).
func (l *Limiter) headerBounds(a *applier, srv *http.Server) (headerBytes, valueCount int) {
	s := &l.s
	headerBytes = srv.MaxHeaderBytes
	if s.lineSize >= 0 && s.headersSize >= 0 {
		count := s.headerCount
		if count < 0 {
			count = DefaultMaxRequestHeaderCount
		}
		// Line, its CRLF, the fields, the blank line, and HTTP/2's per-field
		// overhead for every field and the four pseudo-header fields.
		want := s.lineSize + 2 + s.headersSize + 2 + http2FieldOverhead*(count+4)
		effective := headerBytes
		if effective < 0 {
			effective = http.DefaultMaxHeaderBytes
		}
		headerBytes = atMost(a, "MaxHeaderBytes", headerBytes, effective, want,
			fmt.Sprintf("the %d that Config.MaxRequestLineSize = %d and Config.MaxRequestHeadersTotalSize = %d call for", want, s.lineSize, s.headersSize),
			"lower it, or raise those limits")
	}
	if s.headerCount >= 0 {
		if have, ok := serverHeaderValueCount(srv); ok {
			want := s.headerCount + headerValueCountSlack
			valueCount = atMost(a, "MaxHeaderValueCount", have, effectiveHeaderValueCount(have), want,
				fmt.Sprintf("the %d that Config.MaxRequestHeaderCount = %d calls for", want, s.headerCount),
				"lower it, or raise that limit")
		}
	}
	return headerBytes, valueCount
}

// http2Config returns the HTTP/2 configuration srv should have: a copy of
// have with l's limits in it.
func (l *Limiter) http2Config(a *applier, have *http.HTTP2Config) *http.HTTP2Config {
	want := l.s.http2
	if want == nil {
		return nil
	}
	var c http.HTTP2Config
	if have != nil {
		c = *have
	}
	// The ranges are those in which net/http (Go 1.26 and 1.27 alike) takes a
	// value as given; outside them it uses a default of its own.
	c.MaxConcurrentStreams = http2Bound(a, "MaxConcurrentStreams", c.MaxConcurrentStreams, 1, math.MaxInt32,
		"MaxStreamsPerConnection", want.MaxConcurrentStreams)
	c.MaxDecoderHeaderTableSize = http2Bound(a, "MaxDecoderHeaderTableSize", c.MaxDecoderHeaderTableSize, 1, math.MaxInt32,
		"HeaderTableSize", want.MaxDecoderHeaderTableSize)
	c.MaxReadFrameSize = http2Bound(a, "MaxReadFrameSize", c.MaxReadFrameSize, defaultHTTP2MaxFrameSize, maxHTTP2FrameSize,
		"MaxFrameSize", want.MaxReadFrameSize)
	c.MaxReceiveBufferPerConnection = http2Bound(a, "MaxReceiveBufferPerConnection", c.MaxReceiveBufferPerConnection, minHTTP2ConnectionWindow, math.MaxInt32,
		"InitialConnectionWindowSize", want.MaxReceiveBufferPerConnection)
	c.MaxReceiveBufferPerStream = http2Bound(a, "MaxReceiveBufferPerStream", c.MaxReceiveBufferPerStream, 1, math.MaxInt32,
		"InitialStreamWindowSize", want.MaxReceiveBufferPerStream)
	c.PingTimeout = http2Bound(a, "PingTimeout", c.PingTimeout, 1, math.MaxInt64,
		"KeepAlivePingTimeout", want.PingTimeout)
	// Without KeepAlivePingDelay, whether to ping is the user's choice.
	if want.SendPingTimeout > 0 {
		c.SendPingTimeout = http2Bound(a, "SendPingTimeout", c.SendPingTimeout, 1, math.MaxInt64,
			"KeepAlivePingDelay", want.SendPingTimeout)
	}
	return &c
}

// applier collects the conflicts Apply finds.
type applier struct {
	errs []error
}

// atMost returns the value a server field should take for a limit of want:
// want if the field is zero, the field's own value (have) if what net/http
// makes of it (effective) is no more than want. Otherwise it records a
// conflict naming the field, the limit and the fix.
func atMost[T int | time.Duration](a *applier, field string, have, effective, want T, limit, fix string) T {
	switch {
	case have == 0:
		return want
	case effective <= want:
		return have
	}
	msg := fmt.Sprintf("windhover/limits: http.Server.%s = %v", field, have)
	if effective != have {
		msg += fmt.Sprintf(" (net/http uses %v)", effective)
	}
	a.errs = append(a.errs, &conflictError{msg: msg + " is over " + limit + "; " + fix})
	return have
}

// http2Bound is atMost for a field of http.HTTP2Config, which net/http takes
// as given from lo to hi: outside that range the field is a conflict,
// whatever default net/http would put in its place.
func http2Bound[T int | time.Duration](a *applier, field string, have, lo, hi T, limit string, want T) T {
	if have != 0 && (have < lo || have > hi) {
		a.errs = append(a.errs, &conflictError{msg: fmt.Sprintf(
			"windhover/limits: http.Server.HTTP2.%s = %v is not a value net/http takes (%v to %v), so it would use its own default; "+
				"set it to 0 for Config.HTTP2.%s = %v, or within that range and no higher",
			field, have, lo, hi, limit, want)})
		return have
	}
	return atMost(a, "HTTP2."+field, have, have, want,
		fmt.Sprintf("Config.HTTP2.%s = %v", limit, want), fmt.Sprintf("lower it, or set the limit to %v", have))
}

// track is Apply's ConnState hook.
func (l *Limiter) track(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if findConn(c) != nil {
			return // counted by l's (or another Limiter's) listener
		}
		client, ok := l.holdClient(c)
		if !ok {
			l.reject(nil, &Error{Reason: ReasonClientConnectionLimit, Limit: int64(l.s.perClient), Size: -1, Addr: c.RemoteAddr()})
			_ = c.Close()
			return
		}
		if !l.conns.acquire() {
			client.release()
			l.reject(nil, &Error{Reason: ReasonConnectionLimit, Limit: l.s.maxConns, Size: -1, Addr: c.RemoteAddr()})
			_ = c.Close()
			return
		}
		l.accepted.Add(1)
		l.tracked.mu.Lock()
		l.tracked.conns[c] = client
		l.tracked.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		l.tracked.mu.Lock()
		client, ok := l.tracked.conns[c]
		delete(l.tracked.conns, c)
		l.tracked.mu.Unlock()
		if ok {
			client.release()
			l.conns.release()
		}
	}
}
