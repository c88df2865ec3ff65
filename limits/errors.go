package limits

import (
	"errors"
	"net"
	"strconv"
	"time"
)

// Reason names why a limit refused a connection or a request. Its String form
// is a stable snake_case label, fit for metrics and logs.
type Reason uint8

// The reasons, one per limit and outcome.
const (
	// ReasonConnectionLimit: a connection arrived while MaxConcurrentConnections
	// were open (and no queue could hold it).
	ReasonConnectionLimit Reason = iota
	// ReasonConnectionQueueFull: the connection queue was full.
	ReasonConnectionQueueFull
	// ReasonConnectionQueueTimeout: a queued connection waited longer than
	// ConnectionQueueTimeout for a slot.
	ReasonConnectionQueueTimeout
	// ReasonClientConnectionLimit: a connection arrived while its client
	// had MaxConnectionsPerClient open.
	ReasonClientConnectionLimit
	// ReasonUpgradeLimit: an upgrade request arrived while
	// MaxConcurrentUpgradedConnections were in use; answered 503.
	ReasonUpgradeLimit
	// ReasonUpgradesDisabled: an upgrade request arrived while upgrades are
	// switched off ([NoUpgrades]); answered 503.
	ReasonUpgradesDisabled
	// ReasonRequestLineTooLong: the request line exceeded MaxRequestLineSize; 414.
	ReasonRequestLineTooLong
	// ReasonTooManyHeaders: more than MaxRequestHeaderCount header fields; 431.
	ReasonTooManyHeaders
	// ReasonHeadersTooLarge: the header fields exceeded
	// MaxRequestHeadersTotalSize bytes; 431.
	ReasonHeadersTooLarge
	// ReasonBodyTooLarge: a declared Content-Length or the bytes read exceeded
	// MaxRequestBodySize; 413.
	ReasonBodyTooLarge
	// ReasonConcurrencyLimit: a request arrived while MaxConcurrentRequests
	// were in the handler and there is no request queue; 503.
	ReasonConcurrencyLimit
	// ReasonRequestQueueFull: the request queue was full (or, newest first,
	// the request was the oldest in a full queue and made room); 503.
	ReasonRequestQueueFull
	// ReasonRequestQueueTimeout: a queued request waited longer than
	// RequestQueueTimeout for a slot; 503.
	ReasonRequestQueueTimeout
	// ReasonRequestQueueCanceled: a queued request's context ended (its
	// client went away) before a slot came free; it left the queue at once.
	ReasonRequestQueueCanceled
	// ReasonRateLimited: the request's key had no token left; 429.
	ReasonRateLimited
	// ReasonRateStoreFailed: the rate limiter's [Store] failed to decide; 503.
	ReasonRateStoreFailed

	// The reasons below are Kestrel's refusals of malformed HTTP/1.x
	// requests, which only the connections of [Limiter.Listener] decide,
	// on the bytes as sent (see the package documentation); each closes the
	// connection.

	// ReasonObsFold: a header or trailer field line starts with a space or
	// a tab (obsolete line folding, RFC 9112 section 5.2), which Kestrel
	// refuses and net/http would join to the line before; 400.
	ReasonObsFold
	// ReasonInvalidHost: an HTTP/1.1 request without Host, with more than
	// one, or with a Host that is not a host name or a bracketed IPv6
	// literal with an optional port ("Host: a=b"); 400.
	ReasonInvalidHost
	// ReasonHostMismatch: an absolute-form request target whose authority
	// differs from Host, or a CONNECT target that differs from it; 400.
	ReasonHostMismatch
	// ReasonInvalidTarget: "*" as the target of a method other than
	// OPTIONS, an authority-form target for a method other than CONNECT,
	// or an absolute-form target without a host; 400.
	ReasonInvalidTarget
	// ReasonHTTPVersionNotSupported: HTTP/1.2 to HTTP/1.9, which net/http
	// would serve as HTTP/1.1; 505.
	ReasonHTTPVersionNotSupported
	// ReasonInvalidChunkedBody: a chunked body whose framing is broken (a
	// bad chunk-size line, a missing CRLF after a chunk, trailers that
	// cannot be read); the body's Read fails, and the client gets 400 if
	// the handler wrote nothing.
	ReasonInvalidChunkedBody
	// ReasonLengthRequired: an HTTP/1.0 POST or PUT with neither
	// Content-Length nor Transfer-Encoding, which net/http would serve with
	// an empty body; 400, as Kestrel answers it (LengthRequiredHttp10).
	ReasonLengthRequired

	numReasons
)

// NumReasons is the number of reasons, the length of [Stats.Rejected].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonConnectionLimit:         "connection_limit",
	ReasonConnectionQueueFull:     "connection_queue_full",
	ReasonConnectionQueueTimeout:  "connection_queue_timeout",
	ReasonClientConnectionLimit:   "client_connection_limit",
	ReasonUpgradeLimit:            "upgrade_limit",
	ReasonUpgradesDisabled:        "upgrades_disabled",
	ReasonRequestLineTooLong:      "request_line_too_long",
	ReasonTooManyHeaders:          "too_many_headers",
	ReasonHeadersTooLarge:         "headers_too_large",
	ReasonBodyTooLarge:            "body_too_large",
	ReasonConcurrencyLimit:        "concurrency_limit",
	ReasonRequestQueueFull:        "request_queue_full",
	ReasonRequestQueueTimeout:     "request_queue_timeout",
	ReasonRequestQueueCanceled:    "request_queue_canceled",
	ReasonRateLimited:             "rate_limited",
	ReasonRateStoreFailed:         "rate_store_failed",
	ReasonObsFold:                 "obs_fold",
	ReasonInvalidHost:             "invalid_host",
	ReasonHostMismatch:            "host_mismatch",
	ReasonInvalidTarget:           "invalid_target",
	ReasonHTTPVersionNotSupported: "http_version_not_supported",
	ReasonInvalidChunkedBody:      "invalid_chunked_body",
	ReasonLengthRequired:          "length_required",
}

// String returns the reason's snake_case label, such as "body_too_large".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// The sentinel errors, one per [Reason]. An [*Error] matches its reason's
// sentinel with errors.Is.
var (
	ErrConnectionLimit         = errors.New("windhover/limits: too many concurrent connections")
	ErrConnectionQueueFull     = errors.New("windhover/limits: connection queue full")
	ErrConnectionQueueTimeout  = errors.New("windhover/limits: connection waited too long in the queue")
	ErrClientConnectionLimit   = errors.New("windhover/limits: too many concurrent connections from one client")
	ErrUpgradeLimit            = errors.New("windhover/limits: too many concurrent upgraded connections")
	ErrUpgradesDisabled        = errors.New("windhover/limits: connection upgrades are disabled")
	ErrRequestLineTooLong      = errors.New("windhover/limits: request line too long")
	ErrTooManyHeaders          = errors.New("windhover/limits: too many request header fields")
	ErrHeadersTooLarge         = errors.New("windhover/limits: request header fields too large")
	ErrBodyTooLarge            = errors.New("windhover/limits: request body too large")
	ErrConcurrencyLimit        = errors.New("windhover/limits: too many concurrent requests")
	ErrRequestQueueFull        = errors.New("windhover/limits: request queue full")
	ErrRequestQueueTimeout     = errors.New("windhover/limits: request waited too long in the queue")
	ErrRequestQueueCanceled    = errors.New("windhover/limits: request left the queue before a slot came free")
	ErrRateLimited             = errors.New("windhover/limits: request rate limit exceeded")
	ErrRateStoreFailed         = errors.New("windhover/limits: rate limit store failed")
	ErrObsFold                 = errors.New("windhover/limits: obsolete line folding in a field line")
	ErrInvalidHost             = errors.New("windhover/limits: missing, repeated or malformed Host")
	ErrHostMismatch            = errors.New("windhover/limits: request target and Host name different hosts")
	ErrInvalidTarget           = errors.New("windhover/limits: request target not allowed for the method")
	ErrHTTPVersionNotSupported = errors.New("windhover/limits: HTTP version not supported")
	ErrInvalidChunkedBody      = errors.New("windhover/limits: malformed chunked request body")
	ErrLengthRequired          = errors.New("windhover/limits: HTTP/1.0 POST or PUT without Content-Length")
)

var sentinels = [numReasons]error{
	ReasonConnectionLimit:         ErrConnectionLimit,
	ReasonConnectionQueueFull:     ErrConnectionQueueFull,
	ReasonConnectionQueueTimeout:  ErrConnectionQueueTimeout,
	ReasonClientConnectionLimit:   ErrClientConnectionLimit,
	ReasonUpgradeLimit:            ErrUpgradeLimit,
	ReasonUpgradesDisabled:        ErrUpgradesDisabled,
	ReasonRequestLineTooLong:      ErrRequestLineTooLong,
	ReasonTooManyHeaders:          ErrTooManyHeaders,
	ReasonHeadersTooLarge:         ErrHeadersTooLarge,
	ReasonBodyTooLarge:            ErrBodyTooLarge,
	ReasonConcurrencyLimit:        ErrConcurrencyLimit,
	ReasonRequestQueueFull:        ErrRequestQueueFull,
	ReasonRequestQueueTimeout:     ErrRequestQueueTimeout,
	ReasonRequestQueueCanceled:    ErrRequestQueueCanceled,
	ReasonRateLimited:             ErrRateLimited,
	ReasonRateStoreFailed:         ErrRateStoreFailed,
	ReasonObsFold:                 ErrObsFold,
	ReasonInvalidHost:             ErrInvalidHost,
	ReasonHostMismatch:            ErrHostMismatch,
	ReasonInvalidTarget:           ErrInvalidTarget,
	ReasonHTTPVersionNotSupported: ErrHTTPVersionNotSupported,
	ReasonInvalidChunkedBody:      ErrInvalidChunkedBody,
	ReasonLengthRequired:          ErrLengthRequired,
}

// Errors about the per-request body limit, returned by [SetMaxRequestBodySize].
var (
	// ErrBodyReadStarted: the body has been read from, so its limit is fixed.
	ErrBodyReadStarted = errors.New("windhover/limits: request body already being read; its size limit can no longer change")
	// ErrNoBodyLimit: the request's body is not under a windhover body limit
	// (no limits handler in front, or a middleware gave the request a
	// context not derived from the one it was handed).
	ErrNoBodyLimit = errors.New("windhover/limits: request body is not under a body size limit")
)

// Error is a refusal by a limit. It matches the sentinel of its Reason with
// errors.Is; for ReasonBodyTooLarge it also wraps the *http.MaxBytesError that
// the handler's Read returned, so errors.As finds that too, and for
// ReasonRequestQueueCanceled and ReasonRateStoreFailed it wraps the context's
// or the store's error.
type Error struct {
	Reason Reason
	// Limit is the limit in force: bytes, a count of header fields, of
	// connections or of concurrent requests, or a rate limit's burst; -1
	// for the malformed requests, which break no limit.
	Limit int64
	// Size is what the client sent when it is known (bytes, or a header field
	// count), or -1. A head refused as soon as it crossed a limit was
	// measured that far: Size may be less than what the client meant to send.
	Size int64
	// Trailer reports that the fields refused were the trailers of a chunked
	// body, which count toward the header limits.
	Trailer bool
	// Addr is the client's address for refusals without a request (a
	// connection, or a head refused before it became a request), nil for
	// requests.
	Addr net.Addr
	// Err is the underlying error, if any.
	Err error
	// RetryAfter is how long the client was told to wait (the Retry-After
	// field), for the request concurrency and rate reasons; zero otherwise.
	RetryAfter time.Duration
	// Key is the rate limiter's key for the request (ReasonRateLimited and
	// ReasonRateStoreFailed). It is left out of the message, as it may be a
	// secret such as an API key.
	Key string
	// Status is the status the client was answered with where it is not the
	// reason's: the handler's own answer (a 405, say), written before a body
	// it left unread was refused for its declared length. Zero means the
	// reason's status, [Reason.Status].
	Status int
}

// Error describes the refusal.
func (e *Error) Error() string {
	msg := e.Reason.sentinel().Error()
	if e.Trailer {
		msg += " in the trailers"
	}
	if e.Limit >= 0 {
		bound := " (limit "
		if e.Reason == ReasonRateLimited {
			bound = " (burst " // a token bucket's bound is its size
		}
		msg += bound + strconv.FormatInt(e.Limit, 10)
		if e.Size >= 0 {
			msg += ", got " + strconv.FormatInt(e.Size, 10)
		}
		msg += ")"
	}
	if e.Addr != nil {
		msg += " from " + e.Addr.String()
	}
	if e.RetryAfter > 0 {
		msg += ", retry after " + e.RetryAfter.String()
	}
	if e.Err != nil && e.Reason != ReasonBodyTooLarge {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the reason's sentinel and, if set, the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Reason.sentinel(), e.Err}
	}
	return []error{e.Reason.sentinel()}
}

func (r Reason) sentinel() error {
	if r < numReasons {
		return sentinels[r]
	}
	return errors.New("windhover/limits: " + r.String())
}

// ErrServerConflict is matched by the error of [Limiter.Apply] when the
// server already allows more than a limit: Apply never makes a server weaker,
// and would not silently keep a setting that defeats a limit either.
var ErrServerConflict = errors.New("windhover/limits: the server allows more than a limit")

// conflictError is one setting of the server that allows more than a limit.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

func (e *conflictError) Unwrap() error { return ErrServerConflict }
