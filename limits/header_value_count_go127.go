//go:build go1.27

package limits

import "net/http"

// applyHeaderValueCount bounds, on Go 1.27 and later, the header values
// net/http parses at all, unless the user chose a bound.
func applyHeaderValueCount(srv *http.Server, n int) {
	if srv.MaxHeaderValueCount == 0 {
		srv.MaxHeaderValueCount = n
	}
}
