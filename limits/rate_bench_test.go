package limits

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// benchRate is high enough that every request in a benchmark is allowed.
const benchRate, benchBurst = 1e9, 1 << 30

// remoteAddrs returns n distinct client addresses as net/http sets
// RemoteAddr, half IPv4 and half IPv6, in a random order (the same every run).
func remoteAddrs(n int) []string {
	addrs := make([]string, n)
	for i := range addrs {
		if i%2 == 0 {
			addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":40000"
		} else {
			a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1}
			addrs[i] = netip.AddrPortFrom(netip.AddrFrom16(a), 40000).String()
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return addrs
}

// requestsFrom returns a GET request from each address.
func requestsFrom(tb testing.TB, addrs []string) []*http.Request {
	rs := make([]*http.Request, len(addrs))
	for i, a := range addrs {
		r, _ := requestFor(tb, 0)
		r.RemoteAddr = a
		rs[i] = r
	}
	return rs
}

func BenchmarkRateLimiter(b *testing.B) {
	for _, keys := range []int{1, 100_000} {
		lim, err := NewRateLimiter(RateConfig{Rate: benchRate, Burst: benchBurst, MaxKeys: 2 * keys})
		require.NoError(b, err)
		h := lim.Handler(drain)
		rs := requestsFrom(b, remoteAddrs(keys))
		w := testserver.NewNopWriter()
		for _, r := range rs {
			h.ServeHTTP(w, r)
		}
		b.Run(fmt.Sprintf("serial/keys=%d", keys), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				h.ServeHTTP(w, rs[i])
				if i++; i == len(rs) {
					i = 0
				}
			}
		})
		b.Run(fmt.Sprintf("parallel/keys=%d", keys), func(b *testing.B) {
			b.ReportAllocs()
			var start atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				w := testserver.NewNopWriter()
				mine := rs
				if keys == 1 {
					// Its own request, as each goroutine of a server
					// has: one client, many requests in flight.
					mine = requestsFrom(b, remoteAddrs(1))
				}
				i := int(start.Add(7919)) % len(mine)
				for pb.Next() {
					h.ServeHTTP(w, mine[i])
					if i++; i == len(mine) {
						i = 0
					}
				}
			})
		})
	}
}
