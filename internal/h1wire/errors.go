package h1wire

import (
	"errors"
	"net"
	"strconv"
	"time"
)

// Reason names why the wrapper answered or closed a connection. Its String
// form is a stable snake_case label, fit for metrics and logs.
type Reason uint8

// The reasons. Each says which status the wrapper answers with, if any, and
// where: a head is answered by the wrapper itself, which then closes the
// connection; a body is never answered by the wrapper, whose reads fail with
// the error instead, for the body's reader to answer.
const (
	// ReasonRequestLineTooLong: the request line, its CRLF included, is longer
	// than MaxRequestLineSize; 414, as soon as the limit is crossed.
	ReasonRequestLineTooLong Reason = iota
	// ReasonHeadersTooLarge: the header field lines, as sent, are longer
	// than MaxRequestHeadersTotalSize; 431, as soon as the limit is crossed.
	// In trailers, a read error.
	ReasonHeadersTooLarge
	// ReasonTooManyHeaders: more than MaxRequestHeaderCount field lines;
	// 431. In trailers, a read error.
	ReasonTooManyHeaders
	// ReasonRequestHeadersTimeout: the head was not complete
	// RequestHeadersTimeout after its first byte; 408.
	ReasonRequestHeadersTimeout
	// ReasonKeepAliveTimeout: no byte of a request came within
	// KeepAliveTimeout of the connection's start or of the previous
	// response; closed without an answer, as Kestrel does.
	ReasonKeepAliveTimeout
	// ReasonObsFold: a field line starts with a space or a tab (an obsolete
	// line folding, RFC 9112 section 5.2), which Kestrel refuses; 400. In
	// trailers, a read error.
	ReasonObsFold
	// ReasonInvalidHost: an HTTP/1.1 request without Host, with more than
	// one, or with a Host that Kestrel's host syntax refuses (a name of
	// letters, digits and !$&'()-._~, or a bracketed IPv6 literal, then an
	// optional :port); 400.
	ReasonInvalidHost
	// ReasonHostMismatch: an absolute-form target whose authority differs
	// from Host, or an authority-form target (CONNECT) that differs from
	// Host; 400.
	ReasonHostMismatch
	// ReasonInvalidTarget: "*" as the target of a method other than
	// OPTIONS, an authority-form target for a method other than CONNECT,
	// or an absolute-form target without a host; 400.
	ReasonInvalidTarget
	// ReasonHTTPVersion: HTTP/1.2 to HTTP/1.9, which net/http would serve
	// and Kestrel refuses; 505.
	ReasonHTTPVersion
	// ReasonInvalidChunkedBody: a chunked body whose framing net/http
	// refuses too (a bad chunk-size line, a missing CRLF after a chunk, too
	// much framing for the data, trailers net/http cannot read); a read
	// error, never answered by the wrapper.
	ReasonInvalidChunkedBody
	// ReasonLengthRequired: an HTTP/1.0 POST or PUT with neither
	// Content-Length nor Transfer-Encoding, which net/http serves with an
	// empty body and Kestrel refuses (its LengthRequiredHttp10); 400. An
	// HTTP/1.1 request without either has no body, for Kestrel as for
	// net/http.
	ReasonLengthRequired

	numReasons
)

// NumReasons is the number of reasons, the length of [Stats.Closed].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonRequestLineTooLong:    "request_line_too_long",
	ReasonHeadersTooLarge:       "headers_too_large",
	ReasonTooManyHeaders:        "too_many_headers",
	ReasonRequestHeadersTimeout: "request_headers_timeout",
	ReasonKeepAliveTimeout:      "keep_alive_timeout",
	ReasonObsFold:               "obs_fold",
	ReasonInvalidHost:           "invalid_host",
	ReasonHostMismatch:          "host_mismatch",
	ReasonInvalidTarget:         "invalid_target",
	ReasonHTTPVersion:           "http_version",
	ReasonInvalidChunkedBody:    "invalid_chunked_body",
	ReasonLengthRequired:        "length_required",
}

// String returns the reason's snake_case label, such as "obs_fold".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// Status returns the HTTP status that answers the reason, or 0 for
// ReasonKeepAliveTimeout, which closes without an answer.
func (r Reason) Status() int {
	if r < numReasons {
		return statuses[r]
	}
	return 0
}

var statuses = [numReasons]int{
	ReasonRequestLineTooLong:    414,
	ReasonHeadersTooLarge:       431,
	ReasonTooManyHeaders:        431,
	ReasonRequestHeadersTimeout: 408,
	ReasonKeepAliveTimeout:      0,
	ReasonObsFold:               400,
	ReasonInvalidHost:           400,
	ReasonHostMismatch:          400,
	ReasonInvalidTarget:         400,
	ReasonHTTPVersion:           505,
	ReasonInvalidChunkedBody:    400,
	ReasonLengthRequired:        400,
}

// The sentinel errors, one per [Reason]. An [*Error] matches its reason's
// sentinel with errors.Is.
var (
	ErrRequestLineTooLong    = errors.New("windhover/h1wire: request line too long")
	ErrHeadersTooLarge       = errors.New("windhover/h1wire: request header fields too large")
	ErrTooManyHeaders        = errors.New("windhover/h1wire: too many request header fields")
	ErrRequestHeadersTimeout = errors.New("windhover/h1wire: request head not received in time")
	ErrKeepAliveTimeout      = errors.New("windhover/h1wire: no request within the keep-alive timeout")
	ErrObsFold               = errors.New("windhover/h1wire: obsolete line folding in a field line")
	ErrInvalidHost           = errors.New("windhover/h1wire: missing, repeated or malformed Host")
	ErrHostMismatch          = errors.New("windhover/h1wire: request target and Host name different hosts")
	ErrInvalidTarget         = errors.New("windhover/h1wire: request target not allowed for the method")
	ErrHTTPVersion           = errors.New("windhover/h1wire: HTTP version not supported")
	ErrInvalidChunkedBody    = errors.New("windhover/h1wire: malformed chunked body")
	ErrLengthRequired        = errors.New("windhover/h1wire: HTTP/1.0 POST or PUT without Content-Length")
)

var sentinels = [numReasons]error{
	ReasonRequestLineTooLong:    ErrRequestLineTooLong,
	ReasonHeadersTooLarge:       ErrHeadersTooLarge,
	ReasonTooManyHeaders:        ErrTooManyHeaders,
	ReasonRequestHeadersTimeout: ErrRequestHeadersTimeout,
	ReasonKeepAliveTimeout:      ErrKeepAliveTimeout,
	ReasonObsFold:               ErrObsFold,
	ReasonInvalidHost:           ErrInvalidHost,
	ReasonHostMismatch:          ErrHostMismatch,
	ReasonInvalidTarget:         ErrInvalidTarget,
	ReasonHTTPVersion:           ErrHTTPVersion,
	ReasonInvalidChunkedBody:    ErrInvalidChunkedBody,
	ReasonLengthRequired:        ErrLengthRequired,
}

// Error is one decision of the wrapper: a head it answered, a connection it
// closed, a body whose reads it failed. Reads of a connection it answered or
// closed fail with a *net.OpError wrapping the Error, which net/http takes for
// a connection gone and closes without writing anything more.
type Error struct {
	Reason Reason
	// Limit is the configured limit that was crossed, in bytes or field
	// lines, or -1 if the reason has none (the timeouts and the
	// malformations).
	Limit int64
	// Size is what crossed it: the bytes or field lines seen so far, when
	// the wrapper decided (it decides as soon as the limit is crossed, so
	// Size may be less than what the client meant to send); -1 if the
	// reason has none.
	Size int64
	// Trailer reports that the fields were the trailers of a chunked body.
	Trailer bool
	// Timer is, for a timeout, the timer that ran out: KeepAliveTimeout or
	// RequestHeadersTimeout, or the server's own bound where that was
	// sooner (see [Conn.Bound]).
	Timer time.Duration
	// Addr is the client's address.
	Addr net.Addr
}

// Error describes the decision.
func (e *Error) Error() string {
	s := sentinels[e.Reason].Error()
	if e.Trailer {
		s += " (trailers)"
	}
	if e.Limit >= 0 {
		s += " (" + strconv.FormatInt(e.Size, 10) + " over a limit of " + strconv.FormatInt(e.Limit, 10) + ")"
	}
	if e.Addr != nil {
		s += " from " + e.Addr.String()
	}
	return s
}

// Is reports whether target is the sentinel of e's reason.
func (e *Error) Is(target error) bool { return target == sentinels[e.Reason] }

// Status returns the HTTP status of e's reason (0 for a keep-alive timeout).
func (e *Error) Status() int { return e.Reason.Status() }
