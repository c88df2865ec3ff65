//go:build !go1.27

package limits

import "net/http"

// applyHeaderValueCount does nothing before Go 1.27, whose net/http has no
// bound on the number of header values; MaxHeaderBytes bounds their memory.
func applyHeaderValueCount(*http.Server, int) {}
