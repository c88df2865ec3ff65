package timeouts

import "net/http"

// Refused answers, for any violation, the three questions every windhover
// policy's error answers alike (windhover.RefusalOf reads them without a
// type switch): the policy ("timeouts"), the reason's label
// ("min_request_body_data_rate" or "min_response_data_rate"), and the
// status: 408 for a request body too slow (sent if the handler had written
// nothing yet), 0 for a response cut in the middle.
func (e *RateError) Refused() (policy, reason string, status int) {
	if e.response {
		return "timeouts", "min_response_data_rate", 0
	}
	return "timeouts", "min_request_body_data_rate", http.StatusRequestTimeout
}

// Refused answers, for a connection the Listener closed, the three
// questions every windhover policy's error answers alike: the policy
// ("timeouts"), the reason's label ("keep_alive_timeout" or
// "request_headers_timeout"), and the status: 408 for a late head, 0 for a
// connection closed without an answer.
func (e *TimeoutError) Refused() (policy, reason string, status int) {
	if e.headers {
		return "timeouts", "request_headers_timeout", http.StatusRequestTimeout
	}
	return "timeouts", "keep_alive_timeout", 0
}
