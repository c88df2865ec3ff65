package unixsock

import "net/http"

// Refused answers, for any refusal, the three questions every windhover
// policy's error answers alike (windhover.RefusalOf reads them without a
// type switch): the policy ("unixsock"), the reason's label, and the status
// the request was answered with (403).
func (e *PeerError) Refused() (policy, reason string, status int) {
	return "unixsock", e.Reason.String(), http.StatusForbidden
}
