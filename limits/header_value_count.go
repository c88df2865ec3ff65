//go:build !go1.27

package limits

import "net/http"

// serverHeaderValueCount reports false before Go 1.27, whose net/http has no
// bound on the number of header values; MaxHeaderBytes bounds their memory.
func serverHeaderValueCount(*http.Server) (int, bool) { return 0, false }

func effectiveHeaderValueCount(int) int { return 0 }

func setHeaderValueCount(*http.Server, int) {}
