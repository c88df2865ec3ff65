package limits

import (
	"cmp"
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// TestMemoryStoreFlood sends a million requests from random addresses, half
// IPv4 and half IPv6 networks, through a RateLimiter bounded to 10,000 keys,
// while an honest client that has used up its burst keeps coming back. The
// store must stay within its bound, in keys and in heap, and must not forget
// the honest client: if it did, the client would get a fresh burst.
func TestMemoryStoreFlood(t *testing.T) {
	const maxKeys, flood, honestEvery = 10_000, 1_000_000, 500
	lim, err := NewRateLimiter(RateConfig{Rate: rate.Every(time.Hour), Burst: 5, MaxKeys: maxKeys})
	require.NoError(t, err)
	honest := request("198.51.100.7:1")
	for range 5 {
		require.NoError(t, lim.Check(honest))
	}
	require.ErrorIs(t, lim.Check(honest), ErrRateLimited)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rng := rand.New(rand.NewPCG(1, 2))
	r := request("192.0.2.1:1")
	addrs := make([]string, 4096) // formatted ahead, so that the loop measures the store
	for i := 0; i < flood; i += len(addrs) {
		for j := range addrs {
			var a netip.Addr
			if j%2 == 0 {
				a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			} else {
				var b [16]byte
				for k := range 8 {
					b[k] = byte(rng.Uint32())
				}
				a = netip.AddrFrom16(b)
			}
			addrs[j] = netip.AddrPortFrom(a, 4000).String()
		}
		for j, addr := range addrs[:min(len(addrs), flood-i)] {
			r.RemoteAddr = addr
			_ = lim.Check(r)
			if j%honestEvery == 0 && !assert.ErrorIs(t, lim.Check(honest), ErrRateLimited, "after %d flood requests", i+j) {
				return
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	// Once full, the store takes in new keys without allocating: an
	// evicted key's bucket is refilled in place.
	for j := range addrs {
		addrs[j] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(j >> 8), byte(j)}), 1).String()
	}
	j := 0
	assert.Zero(t, testing.AllocsPerRun(len(addrs)-1, func() {
		r.RemoteAddr = addrs[j]
		j++
		_ = lim.Check(r)
	}), "a new key allocates")

	st := lim.Stats()
	assert.LessOrEqual(t, st.Keys, maxKeys)
	assert.GreaterOrEqual(t, st.Evictions, uint64(flood+len(addrs)-maxKeys))
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d keys tracked, %d evicted, heap grew %d KiB (%d B a key)", st.Keys, st.Evictions, grown>>10, grown/maxKeys)
	// About 300 bytes a key; a million keys unbounded would take hundreds
	// of megabytes.
	assert.Less(t, grown, int64(16<<20), "heap grew by %d bytes", grown)
}

func TestMemoryStoreEvictsIdleAndUnvisitedFirst(t *testing.T) {
	s := NewMemoryStore(3)
	require.Len(t, s.shards, 1)
	ctx := context.Background()
	q := Quota{Rate: 1, Burst: 2} // an idle bucket is full again after 2 s
	now := time.Unix(1000, 0)
	take := func(key string, at time.Duration) Decision {
		d, err := s.Allow(ctx, key, q, now.Add(at))
		require.NoError(t, err)
		return d
	}
	// a and b are visited (used twice), c only once.
	take("a", 0)
	take("a", 0)
	take("b", 0)
	take("b", 0)
	take("c", 0)
	take("d", time.Millisecond) // evicts c: a and b lose their mark
	assert.Equal(t, 3, s.Len())
	assert.EqualValues(t, 1, s.Evictions())
	assert.False(t, take("a", 2*time.Millisecond).Allowed, "a kept its empty bucket")
	assert.False(t, take("b", 2*time.Millisecond).Allowed, "b kept its empty bucket")
	assert.Equal(t, 1, take("c", 3*time.Millisecond).Remaining, "c was forgotten and starts full")

	// A bucket idle long enough to refill goes first, even if it was used
	// again since the hand passed: forgetting it changes nothing.
	take("c", 10*time.Second)
	take("b", 10*time.Second)
	take("e", 10*time.Second) // a, idle since 2 ms, makes room
	assert.EqualValues(t, 3, s.Evictions())
	_, tracked := s.shards[0].find(memKey{s: "a"})
	assert.False(t, tracked, "a was evicted")
	for _, key := range []string{"b", "c"} {
		assert.Equal(t, Decision{Allowed: true, Reset: 2 * time.Second}, take(key, 10*time.Second), "%s kept its bucket", key)
	}
}

func TestMemoryStoreShards(t *testing.T) {
	for _, tt := range []struct{ maxKeys, shards int }{
		{1, 1}, {1000, 1}, {2048, 2}, {10_000, 16}, {0, 64}, {1 << 30, 64},
	} {
		s := NewMemoryStore(tt.maxKeys)
		assert.Len(t, s.shards, tt.shards, "maxKeys %d", tt.maxKeys)
		total := 0
		for i := range s.shards {
			total += s.shards[i].max
		}
		assert.Equal(t, cmp.Or(tt.maxKeys, DefaultMaxKeys), total, "maxKeys %d", tt.maxKeys)
	}

	// Keys spread over the shards evenly, addresses and strings alike.
	s := NewMemoryStore(64 * keysPerShard)
	counts := make([]int, len(s.shards))
	for i := range 64_000 {
		k := memKey{addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}
		if i%2 == 1 {
			k = memKey{s: "key-" + strconv.Itoa(i)}
		}
		counts[s.shardIndex(k)]++
	}
	for i, n := range counts {
		assert.InDelta(t, 1000, n, 200, "shard %d", i)
	}
}

// TestMemoryStoreConcurrent has goroutines race for the same keys: without
// eviction every key must let exactly its burst through, whoever asks; with
// eviction going on at the same time, the bound must hold.
func TestMemoryStoreConcurrent(t *testing.T) {
	const goroutines, keys, rounds, burst = 8, 1000, 5, 3
	q := Quota{Rate: rate.Every(time.Hour), Burst: burst}
	for _, maxKeys := range []int{keys, 100} {
		t.Run("maxKeys="+strconv.Itoa(maxKeys), func(t *testing.T) {
			s := NewMemoryStore(maxKeys)
			allowed := make([]atomic.Int32, keys)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for r := range rounds * keys {
						i := (r*7 + g*131) % keys
						k := memKey{addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
						if i%2 == 1 {
							k = memKey{s: "key " + strconv.Itoa(i)}
						}
						if s.take(k, q, time.Now().UnixNano(), i%3 == 0, g).Allowed { // each goroutine its read lock
							allowed[i].Add(1)
						}
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, s.Len(), maxKeys)
			if maxKeys < keys {
				assert.Positive(t, s.Evictions())
				return
			}
			assert.Zero(t, s.Evictions())
			for i := range allowed {
				assert.EqualValues(t, burst, allowed[i].Load(), "key %d", i)
			}
		})
	}
}
