package windhover

import "errors"

// Refusal describes a refusal by any policy: the error a policy passed to
// its OnReject (or Config.OnReject), or returned from a body's Read.
type Refusal struct {
	// Policy is the package, or the limiter, that refused: "limits",
	// "rate", "concurrency", "timeouts", "hostfilter", "certauth",
	// "unixsock".
	Policy string
	// Reason is the policy's reason, a stable snake_case label such as
	// "body_too_large" or "host_not_allowed", fit for metrics and logs.
	Reason string
	// Status is the HTTP status the client was answered with, or 0 if none
	// could be sent (a connection closed before any request, a response cut
	// in the middle).
	Status int
	// Err is the policy's own error, for errors.As and errors.Is.
	Err error
}

// refuser is what every policy's error implements.
type refuser interface {
	Refused() (policy, reason string, status int)
}

// RefusalOf describes err if it is, or wraps, a refusal by a windhover
// policy; ok is false otherwise.
func RefusalOf(err error) (r Refusal, ok bool) {
	var x refuser
	if !errors.As(err, &x) {
		return Refusal{}, false
	}
	r.Policy, r.Reason, r.Status = x.Refused()
	r.Err = err
	return r, true
}
