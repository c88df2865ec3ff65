package limits

import (
	"net"
	"net/http"
)

// Apply puts l's server-side limits on srv. Call it once per server, before
// the server starts.
//
//   - MaxHeaderBytes, if zero, becomes MaxRequestLineSize +
//     MaxRequestHeadersTotalSize with room for the line ends and for HTTP/2's
//     32-byte overhead per field, so that memory is bounded before parsing
//     while the exact limits are left to the Handler. On Go 1.27 and later
//     MaxHeaderValueCount, if zero, is set just above MaxRequestHeaderCount
//     for the same reason.
//   - HTTP2 gets Kestrel's HTTP/2 limits in every field left zero; a
//     configuration the user set is copied, not modified.
//   - ConnState gets a hook, chained after any hook already there, that
//     enforces MaxConcurrentConnections on connections that did not come
//     through l's Listener: the way to limit a server started with
//     ListenAndServe or ListenAndServeTLS. Such a connection over the limit is
//     closed before any byte is read, before the TLS handshake. Because
//     ConnState cannot see a hijacked connection close, one leaves the pool
//     when it is hijacked; wrap the listener with [Limiter.Listener] to keep
//     hijacked connections counted, and to queue or answer 503.
func (l *Limiter) Apply(srv *http.Server) {
	if l.policies&serverPolicy != 0 {
		l.applyHeaderBytes(srv)
		l.applyHTTP2(srv)
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
}

// http2FieldOverhead is what HTTP/2 adds to each header field when it sizes a
// header list (RFC 9113, section 6.5.2).
const http2FieldOverhead = 32

func (l *Limiter) applyHeaderBytes(srv *http.Server) {
	s := &l.s
	if s.lineSize < 0 || s.headersSize < 0 {
		return
	}
	count := s.headerCount
	if count < 0 {
		count = DefaultMaxRequestHeaderCount
	}
	if srv.MaxHeaderBytes == 0 {
		// Line, its CRLF, the fields, the blank line, and HTTP/2's per-field
		// overhead for every field and the four pseudo-header fields.
		srv.MaxHeaderBytes = s.lineSize + 2 + s.headersSize + 2 + http2FieldOverhead*(count+4)
	}
	if s.headerCount >= 0 {
		applyHeaderValueCount(srv, s.headerCount+headerValueCountSlack)
	}
}

// headerValueCountSlack leaves the exact header count to the Handler: a
// request one field over the limit must reach it to get Kestrel's answer.
const headerValueCountSlack = 8

func (l *Limiter) applyHTTP2(srv *http.Server) {
	want := l.s.http2
	if want == nil {
		return
	}
	var cfg http.HTTP2Config
	if srv.HTTP2 != nil {
		cfg = *srv.HTTP2
	}
	setIfZero(&cfg.MaxConcurrentStreams, want.MaxConcurrentStreams)
	setIfZero(&cfg.MaxDecoderHeaderTableSize, want.MaxDecoderHeaderTableSize)
	setIfZero(&cfg.MaxReadFrameSize, want.MaxReadFrameSize)
	setIfZero(&cfg.MaxReceiveBufferPerConnection, want.MaxReceiveBufferPerConnection)
	setIfZero(&cfg.MaxReceiveBufferPerStream, want.MaxReceiveBufferPerStream)
	setIfZero(&cfg.SendPingTimeout, want.SendPingTimeout)
	setIfZero(&cfg.PingTimeout, want.PingTimeout)
	srv.HTTP2 = &cfg
}

func setIfZero[T comparable](field *T, v T) {
	var zero T
	if *field == zero {
		*field = v
	}
}

// track is Apply's ConnState hook.
func (l *Limiter) track(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if findConn(c) != nil {
			return // counted by l's (or another Limiter's) listener
		}
		if !l.conns.acquire() {
			l.reject(nil, &Error{Reason: ReasonConnectionLimit, Limit: l.s.maxConns, Size: -1, Addr: c.RemoteAddr()})
			_ = c.Close()
			return
		}
		l.accepted.Add(1)
		l.tracked.mu.Lock()
		l.tracked.conns[c] = struct{}{}
		l.tracked.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		l.tracked.mu.Lock()
		_, ok := l.tracked.conns[c]
		delete(l.tracked.conns, c)
		l.tracked.mu.Unlock()
		if ok {
			l.conns.release()
		}
	}
}
