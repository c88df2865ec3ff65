package certauth

// Refused answers, for any refusal, the three questions every windhover
// policy's error answers alike (windhover.RefusalOf reads them without a
// type switch): the policy ("certauth"), the reason's label, and the status
// a request refused for it is answered with ([Reason.Status]: 421 or 403;
// a handshake that fails gets a TLS alert instead).
func (e *Error) Refused() (policy, reason string, status int) {
	return "certauth", e.Reason.String(), e.Reason.Status()
}
