//go:build go1.27

package limits

import "net/http"

// serverHeaderValueCount returns, on Go 1.27 and later, the bound on the
// header values net/http parses at all.
func serverHeaderValueCount(srv *http.Server) (int, bool) { return srv.MaxHeaderValueCount, true }

// effectiveHeaderValueCount is the bound net/http enforces for a
// MaxHeaderValueCount of n.
func effectiveHeaderValueCount(n int) int {
	if n <= 0 {
		return http.DefaultMaxHeaderValueCount
	}
	return n
}

func setHeaderValueCount(srv *http.Server, n int) { srv.MaxHeaderValueCount = n }
