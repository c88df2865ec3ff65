package benchmarks

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/windhover/windhover/limits"
)

// BenchmarkBodyLimit compares limits.MaxRequestBodySize with chi's
// RequestSize and net/http's MaxBytesHandler, each at Kestrel's default of
// 30,000,000 bytes, for a 1 KiB body the handler reads to the end; and the
// whole limits.Limiter with Kestrel's defaults (request line, header fields
// and body), for what all of its per-request checks cost together.
func BenchmarkBodyLimit(b *testing.B) {
	all, err := limits.New(limits.Config{})
	if err != nil {
		b.Fatal(err)
	}
	const n = limits.DefaultMaxRequestBodySize
	b.Run("body=1KiB", func(b *testing.B) {
		serveArms(b, load{body: 1024}, []arm{
			{"bare", app()},
			{"windhover", limits.MaxRequestBodySize(n).Handler(app())},
			{"windhover-all-limits", all.Handler(app())},
			{"chi", middleware.RequestSize(n)(app())},
			{"MaxBytesHandler", http.MaxBytesHandler(app(), n)},
		})
	})
}
