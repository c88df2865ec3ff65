package benchmarks

import (
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/windhover/windhover/limits"
)

// concurrencyLimit is far above the requests the benchmark has in flight:
// every request gets a slot at once, and the benchmark measures taking and
// giving it back, the cost every request pays.
const concurrencyLimit = 64

// BenchmarkConcurrency compares limits.ConcurrencyLimiter with chi's
// Throttle, without a queue and with one as long as the limit (chi's
// backlog, which counts the requests in the handler too, is given the same
// room: limit plus queue).
func BenchmarkConcurrency(b *testing.B) {
	queued, err := limits.NewConcurrencyLimiter(limits.ConcurrencyConfig{
		MaxConcurrentRequests: concurrencyLimit, RequestQueueLimit: concurrencyLimit, RequestQueueTimeout: 5 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("queue=0", func(b *testing.B) {
		serveArms(b, load{parallel: true}, []arm{
			{"bare", app()},
			{"windhover", limits.MaxConcurrentRequests(concurrencyLimit).Handler(app())},
			{"chi", middleware.Throttle(concurrencyLimit)(app())},
		})
	})
	b.Run("queue=64", func(b *testing.B) {
		serveArms(b, load{parallel: true}, []arm{
			{"bare", app()},
			{"windhover", queued.Handler(app())},
			{"chi", middleware.ThrottleBacklog(concurrencyLimit, concurrencyLimit, 5*time.Second)(app())},
		})
	})
}
