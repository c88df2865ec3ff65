package limits

// Refused answers, for any refusal, the three questions every windhover
// policy's error answers alike (windhover.RefusalOf reads them without a
// type switch): the policy that refused ("limits", "rate" or
// "concurrency", see [Reason.Policy]), the reason's label, and the status
// the client was answered with, or 0 for a connection closed before any
// request (the connection limits, whose ConnectionOverflow may answer 503 on
// the connection instead). The status is [Error.Status] where the handler
// answered before the refusal.
func (e *Error) Refused() (policy, reason string, status int) {
	status = e.Reason.Status()
	if e.Status != 0 {
		status = e.Status
	}
	return e.Reason.Policy(), e.Reason.String(), status
}
