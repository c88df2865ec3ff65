// Package pattern keeps the ServeMux's route visible through the policies
// that hand on a copy of the request.
package pattern

import "net/http"

// HandBack sets the Pattern of r, the request a handler was given, to that
// of inner, the copy it handed on, once the handler after it has returned or
// panicked (call it deferred): as a ServeMux sets it on the request it is
// handed, so that middleware in front of the handler (metrics' route label,
// a logger) sees the pattern that served the request as it would without
// the copy.
func HandBack(r, inner *http.Request) { r.Pattern = inner.Pattern }
