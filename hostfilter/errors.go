package hostfilter

import (
	"errors"
	"strconv"
)

// Reason names why a request was refused. Its String form is a stable
// snake_case label, fit for metrics and logs.
type Reason uint8

// The reasons. Every refusal is answered 400.
const (
	// ReasonEmptyHost: the request named no host (HTTP/1.0 without a Host
	// field, an empty Host field, HTTP/2 without :authority or Host) and
	// RejectEmptyHost is set.
	ReasonEmptyHost Reason = iota
	// ReasonMalformedHost: the host cannot be a host: a bad port, an empty
	// label ("x..example.com"), a byte no host name contains, a label over
	// 63 bytes, a name over 253 bytes, a numeric name that is not an IPv4
	// address, an unbracketed IPv6 address.
	ReasonMalformedHost
	// ReasonHostNotAllowed: a well-formed host that no allowed pattern
	// matches.
	ReasonHostNotAllowed
	// ReasonHostMismatch: the request names two different hosts, each of
	// them allowed: over HTTP/2, an absolute :path or a Host field naming
	// another host than :authority. RFC 9113 calls such a request malformed;
	// Kestrel answers 400 to its HTTP/1 form.
	ReasonHostMismatch

	numReasons
)

// NumReasons is the number of reasons, the length of [Stats.Rejected].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonEmptyHost:      "empty_host",
	ReasonMalformedHost:  "malformed_host",
	ReasonHostNotAllowed: "host_not_allowed",
	ReasonHostMismatch:   "host_mismatch",
}

// String returns the reason's snake_case label, such as "host_not_allowed".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// The sentinel errors, one per [Reason]. An [*Error] matches its reason's
// sentinel with errors.Is.
var (
	ErrEmptyHost      = errors.New("windhover/hostfilter: empty host")
	ErrMalformedHost  = errors.New("windhover/hostfilter: malformed host")
	ErrHostNotAllowed = errors.New("windhover/hostfilter: host not allowed")
	ErrHostMismatch   = errors.New("windhover/hostfilter: request names a second, different host")
)

var sentinels = [numReasons]error{
	ReasonEmptyHost:      ErrEmptyHost,
	ReasonMalformedHost:  ErrMalformedHost,
	ReasonHostNotAllowed: ErrHostNotAllowed,
	ReasonHostMismatch:   ErrHostMismatch,
}

// maxQuotedHost bounds how much of a refused host an error message quotes: a
// Host field may be as long as the server's header limit allows.
const maxQuotedHost = 256

// Error is a refusal of a request's host. It matches the sentinel of its
// Reason with errors.Is.
type Error struct {
	Reason Reason
	// Host is the refused value exactly as received: r.Host, r.URL.Host or
	// a Host field; for ReasonHostMismatch the one that differs from the
	// host named before it. Empty for ReasonEmptyHost.
	Host string
}

// Error describes the refusal, quoting at most the first 256 bytes of Host.
func (e *Error) Error() string {
	msg := e.Reason.sentinel().Error()
	if e.Host == "" {
		return msg
	}
	if len(e.Host) > maxQuotedHost {
		return msg + " " + strconv.Quote(e.Host[:maxQuotedHost]) + "... (" + strconv.Itoa(len(e.Host)) + " bytes)"
	}
	return msg + " " + strconv.Quote(e.Host)
}

// Unwrap returns the reason's sentinel.
func (e *Error) Unwrap() error { return e.Reason.sentinel() }

func (r Reason) sentinel() error {
	if r < numReasons {
		return sentinels[r]
	}
	return errors.New("windhover/hostfilter: " + r.String())
}
