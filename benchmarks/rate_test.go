package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didip/tollbooth/v7"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

// Every limiter allows every request: the benchmarks measure the cost of
// deciding, not of refusing. go-limiter's bucket is given a day's window:
// it refills only at the end of a window.
const (
	allowRate  = 1e9
	allowBurst = 1 << 30
)

// keyCounts are the numbers of distinct clients each benchmark cycles through.
var keyCounts = []int{1, 100_000}

// clients returns n distinct client addresses, half IPv4, half IPv6 /64s.
func clients(n int) []netip.Addr {
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		if i%2 == 0 {
			addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		} else {
			addrs[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		}
	}
	return addrs
}

// shuffle puts s in a random order, the same every run: clients do not come
// back in the order they first came, and following that order would favour
// whichever store lays its buckets out by arrival.
func shuffle[T any](s []T) {
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// A worker takes a token for request (or key) i; newWorker makes one per
// goroutine, so that each has its own ResponseWriter.
type worker = func(i int) bool

type contender struct {
	name      string
	newWorker func() worker
}

// BenchmarkRateStore measures a store deciding on one request for a key.
func BenchmarkRateStore(b *testing.B) {
	ctx := context.Background()
	for _, n := range keyCounts {
		// The keys looked up are not the strings the stores were given
		// first, as in a server, where each request brings its own.
		keys, first := make([]string, n), make([]string, n)
		for i, a := range clients(n) {
			keys[i], first[i] = a.String(), a.String()
		}
		shuffle(keys)
		ours := limits.NewMemoryStore(1 << 20)
		q := limits.Quota{Rate: allowRate, Burst: allowBurst}
		theirs, err := memorystore.New(&memorystore.Config{Tokens: 1 << 40, Interval: 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		tb := tollbooth.NewLimiter(allowRate, nil).SetBurst(allowBurst)
		for _, k := range first {
			_, _ = ours.Allow(ctx, k, q, time.Now())
			_, _, _, _, _ = theirs.Take(ctx, k)
			_ = tollbooth.LimitByKeys(tb, []string{k})
		}
		same := func(w worker) func() worker { return func() worker { return w } }
		compare(b, n, []contender{
			{"windhover", same(func(i int) bool {
				d, _ := ours.Allow(ctx, keys[i], q, time.Now())
				return d.Allowed
			})},
			{"go-limiter", same(func(i int) bool {
				_, _, _, ok, _ := theirs.Take(ctx, keys[i])
				return ok
			})},
			{"tollbooth", same(func(i int) bool {
				return tollbooth.LimitByKeys(tb, []string{keys[i]}) == nil
			})},
		})
		_ = theirs.Close(ctx)
	}
}

// BenchmarkRateHandler measures a whole middleware allowing a request, keyed
// by the client address (RemoteAddr), around an empty handler. go-limiter
// and tollbooth write their X-RateLimit fields on every response;
// windhover+headers writes the RateLimit fields likewise (HeadersOnAllowed),
// windhover writes none.
func BenchmarkRateHandler(b *testing.B) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, n := range keyCounts {
		reqs := make([]*http.Request, n)
		for i, a := range clients(n) {
			reqs[i] = httptest.NewRequest("GET", "/", nil)
			reqs[i].RemoteAddr = netip.AddrPortFrom(a, 40000).String()
		}
		shuffle(reqs)
		ours, err := limits.NewRateLimiter(limits.RateConfig{Rate: allowRate, Burst: allowBurst, MaxKeys: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		oursHeaders, err := limits.NewRateLimiter(limits.RateConfig{Rate: allowRate, Burst: allowBurst, MaxKeys: 1 << 20, HeadersOnAllowed: true})
		if err != nil {
			b.Fatal(err)
		}
		store, err := memorystore.New(&memorystore.Config{Tokens: 1 << 40, Interval: 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		mw, err := httplimit.NewMiddleware(store, httplimit.IPKeyFunc())
		if err != nil {
			b.Fatal(err)
		}
		tb := tollbooth.NewLimiter(allowRate, nil).SetBurst(allowBurst).SetIPLookups([]string{"RemoteAddr"})
		serve := func(h http.Handler) func() worker {
			return func() worker {
				w := testserver.NewNopWriter()
				return func(i int) bool {
					h.ServeHTTP(w, reqs[i])
					clear(w.H) // tollbooth adds its fields rather than setting them
					return true
				}
			}
		}
		compare(b, n, []contender{
			{"windhover", serve(ours.Handler(ok))},
			{"windhover+headers", serve(oursHeaders.Handler(ok))},
			{"go-limiter", serve(mw.Handle(ok))},
			{"tollbooth", serve(tollbooth.LimitHandler(tb, ok))},
		})
		_ = store.Close(context.Background())
	}
}

// compare measures the contenders serially and in parallel, cycling through n
// keys, each goroutine starting at its own place in the cycle. Every key is
// used once before the clock starts, so that every bucket exists.
func compare(b *testing.B, n int, cs []contender) {
	for _, c := range cs {
		do := c.newWorker()
		for i := range n {
			if !do(i) {
				b.Fatalf("%s refused", c.name)
			}
		}
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, c := range cs {
			b.Run(fmt.Sprintf("keys=%d/%s/%s", n, mode, c.name), func(b *testing.B) {
				b.ReportAllocs()
				if mode == "serial" {
					loop(b.Loop, c.newWorker(), 0, n)
					return
				}
				var start atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					loop(pb.Next, c.newWorker(), int(start.Add(7919))%n, n)
				})
			})
		}
	}
}

func loop(next func() bool, do worker, i, n int) {
	for next() {
		if !do(i) {
			panic("refused")
		}
		if i++; i == n {
			i = 0
		}
	}
}
