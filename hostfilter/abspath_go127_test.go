//go:build go1.27

package hostfilter

// serverRefusesAbsolutePath says that net/http's HTTP/2 server resets a
// stream whose :path is not origin-form (RFC 9113, section 8.3.1) before any
// handler: Go 1.27 does, Go 1.26 parses it into r.URL.
const serverRefusesAbsolutePath = true
