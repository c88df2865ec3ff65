package limits

import (
	"errors"
	"net"
	"strconv"
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

	numReasons
)

// NumReasons is the number of reasons, the length of [Stats.Rejected].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonConnectionLimit:        "connection_limit",
	ReasonConnectionQueueFull:    "connection_queue_full",
	ReasonConnectionQueueTimeout: "connection_queue_timeout",
	ReasonUpgradeLimit:           "upgrade_limit",
	ReasonUpgradesDisabled:       "upgrades_disabled",
	ReasonRequestLineTooLong:     "request_line_too_long",
	ReasonTooManyHeaders:         "too_many_headers",
	ReasonHeadersTooLarge:        "headers_too_large",
	ReasonBodyTooLarge:           "body_too_large",
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
	ErrConnectionLimit        = errors.New("windhover/limits: too many concurrent connections")
	ErrConnectionQueueFull    = errors.New("windhover/limits: connection queue full")
	ErrConnectionQueueTimeout = errors.New("windhover/limits: connection waited too long in the queue")
	ErrUpgradeLimit           = errors.New("windhover/limits: too many concurrent upgraded connections")
	ErrUpgradesDisabled       = errors.New("windhover/limits: connection upgrades are disabled")
	ErrRequestLineTooLong     = errors.New("windhover/limits: request line too long")
	ErrTooManyHeaders         = errors.New("windhover/limits: too many request header fields")
	ErrHeadersTooLarge        = errors.New("windhover/limits: request header fields too large")
	ErrBodyTooLarge           = errors.New("windhover/limits: request body too large")
)

var sentinels = [numReasons]error{
	ReasonConnectionLimit:        ErrConnectionLimit,
	ReasonConnectionQueueFull:    ErrConnectionQueueFull,
	ReasonConnectionQueueTimeout: ErrConnectionQueueTimeout,
	ReasonUpgradeLimit:           ErrUpgradeLimit,
	ReasonUpgradesDisabled:       ErrUpgradesDisabled,
	ReasonRequestLineTooLong:     ErrRequestLineTooLong,
	ReasonTooManyHeaders:         ErrTooManyHeaders,
	ReasonHeadersTooLarge:        ErrHeadersTooLarge,
	ReasonBodyTooLarge:           ErrBodyTooLarge,
}

// Errors about the per-request body limit, returned by [SetMaxRequestBodySize].
var (
	// ErrBodyReadStarted: the body has been read from, so its limit is fixed.
	ErrBodyReadStarted = errors.New("windhover/limits: request body already being read; its size limit can no longer change")
	// ErrNoBodyLimit: the request's body is not under a windhover body limit
	// (no limits handler in front, or a middleware replaced Request.Body).
	ErrNoBodyLimit = errors.New("windhover/limits: request body is not under a body size limit")
)

// Error is a refusal by a limit. It matches the sentinel of its Reason with
// errors.Is; for ReasonBodyTooLarge it also wraps the *http.MaxBytesError that
// the handler's Read returned, so errors.As finds that too.
type Error struct {
	Reason Reason
	// Limit is the limit in force: bytes, a count of header fields or of
	// connections.
	Limit int64
	// Size is what the client sent when it is known (bytes, or a header field
	// count), or -1.
	Size int64
	// Addr is the client's address for connection refusals, nil for requests.
	Addr net.Addr
	// Err is the underlying error, if any.
	Err error
}

// Error describes the refusal.
func (e *Error) Error() string {
	msg := e.Reason.sentinel().Error()
	msg += " (limit " + strconv.FormatInt(e.Limit, 10)
	if e.Size >= 0 {
		msg += ", got " + strconv.FormatInt(e.Size, 10)
	}
	msg += ")"
	if e.Addr != nil {
		msg += " from " + e.Addr.String()
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
