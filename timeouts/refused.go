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
