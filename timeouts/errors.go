package timeouts

import (
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// The sentinels a [*RateError] or a [*TimeoutError] matches with errors.Is.
var (
	// ErrMinRequestBodyDataRate: the client sent the request body more slowly
	// than MinRequestBodyDataRate allows.
	ErrMinRequestBodyDataRate = errors.New("windhover/timeouts: request body arrived below the minimum data rate")
	// ErrMinResponseDataRate: the client read the response more slowly than
	// MinResponseDataRate allows.
	ErrMinResponseDataRate = errors.New("windhover/timeouts: response read below the minimum data rate")
	// ErrKeepAliveTimeout: a connection from [Policy.Listener] sent no byte
	// of a request within KeepAliveTimeout of its start or of the previous
	// response, and was closed without an answer.
	ErrKeepAliveTimeout = errors.New("windhover/timeouts: no request within the keep-alive timeout")
	// ErrRequestHeadersTimeout: a connection from [Policy.Listener] did not
	// send a request's head within RequestHeadersTimeout of its first byte,
	// and got 408 and Connection: close.
	ErrRequestHeadersTimeout = errors.New("windhover/timeouts: request head not received within the request headers timeout")
	// ErrNotPoliced: the ResponseWriter given to SetMinRequestBodyDataRate or
	// SetMinResponseDataRate is not one a timeouts handler handed on.
	ErrNotPoliced = errors.New("windhover/timeouts: response writer is not under a timeouts handler")
)

// RateError reports a client that moved data more slowly than a minimum
// rate. It matches [ErrMinRequestBodyDataRate] or [ErrMinResponseDataRate]
// with errors.Is, and os.ErrDeadlineExceeded too, as the I/O error of the
// operation it cut does. Bytes/Elapsed may exceed the minimum: a client that
// sent or read far ahead of it and then stopped is cut once it has used up
// the grace period's worth of lead it may bank (see the package
// documentation).
type RateError struct {
	// Rate is the minimum that was broken.
	Rate Rate
	// Bytes is how many bytes had moved.
	Bytes int64
	// Elapsed is the time counted: for a request body, the time spent waiting
	// in Read; for a response, the time since its first bytes left for the
	// connection.
	Elapsed time.Duration
	// Err is the error of the Read that was cut, if it returned one; nil
	// if data arrived at the very moment of the cut.
	Err error

	response bool
}

// Error describes the violation.
func (e *RateError) Error() string {
	return e.sentinel().Error() + " (" + strconv.FormatInt(e.Bytes, 10) + " bytes in " +
		e.Elapsed.Round(time.Millisecond).String() + ", minimum " + e.Rate.String() + ")"
}

// Unwrap returns the sentinel and the error of the operation that was cut,
// or os.ErrDeadlineExceeded if it has none.
func (e *RateError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.sentinel(), e.Err}
	}
	return []error{e.sentinel(), os.ErrDeadlineExceeded}
}

// Timeout reports true, so that code testing for timeouts (net.Error) sees one.
func (e *RateError) Timeout() bool { return true }

func (e *RateError) sentinel() error {
	if e.response {
		return ErrMinResponseDataRate
	}
	return ErrMinRequestBodyDataRate
}

// TimeoutError reports a connection closed by [Policy.Listener] because a
// server timer ran out before a request's head was in: KeepAliveTimeout
// (closed without an answer) or RequestHeadersTimeout (408 and close). It
// matches [ErrKeepAliveTimeout] or [ErrRequestHeadersTimeout] with
// errors.Is, and os.ErrDeadlineExceeded too, as a timed-out read does. There
// is no request to go with it: [Config.OnReject] gets it with a nil
// request.
type TimeoutError struct {
	// Limit is the timer that ran out: the Policy's KeepAliveTimeout or
	// RequestHeadersTimeout, or where it ran out first a server's own
	// shorter bound that [Policy.Apply] kept: its IdleTimeout between
	// requests (a later head cut before its fourth byte is a
	// RequestHeadersTimeout with that limit), its ReadHeaderTimeout for a
	// head and for a new connection's wait (a new connection that sent
	// nothing is a KeepAliveTimeout with that limit), ReadTimeout where
	// those are zero.
	Limit time.Duration
	// Addr is the client's address.
	Addr net.Addr

	headers bool
}

// Error describes the timeout.
func (e *TimeoutError) Error() string {
	s := e.sentinel().Error() + " (" + e.Limit.String() + ")"
	if e.Addr != nil {
		s += " from " + e.Addr.String()
	}
	return s
}

// Unwrap returns the sentinel and os.ErrDeadlineExceeded.
func (e *TimeoutError) Unwrap() []error {
	return []error{e.sentinel(), os.ErrDeadlineExceeded}
}

// Timeout reports true, so that code testing for timeouts (net.Error) sees one.
func (e *TimeoutError) Timeout() bool { return true }

// Status returns the status the client got: 408 for a request head not
// received in time, 0 for a keep-alive timeout, which closes without an
// answer, as Kestrel does.
func (e *TimeoutError) Status() int {
	if e.headers {
		return 408
	}
	return 0
}

func (e *TimeoutError) sentinel() error {
	if e.headers {
		return ErrRequestHeadersTimeout
	}
	return ErrKeepAliveTimeout
}
