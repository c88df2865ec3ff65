package hostfilter

import "net/http"

// Refused answers, for any refusal, the three questions every windhover
// policy's error answers alike (windhover.RefusalOf reads them without a
// type switch): the policy ("hostfilter"), the reason's label, and the
// status the client was answered with (always 400).
func (e *Error) Refused() (policy, reason string, status int) {
	return "hostfilter", e.Reason.String(), http.StatusBadRequest
}
