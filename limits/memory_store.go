package limits

import (
	"context"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is how many keys a [MemoryStore] tracks when given zero:
// about 35 MB at most, some 350 bytes a key.
const DefaultMaxKeys = 100_000

// Sharding: enough shards that parallel requests rarely meet on one lock,
// few enough that a small store's keys are not spread too thin.
const (
	maxShards      = 64
	keysPerShard   = 1024
	shardPadding   = 64 // a cache line, so that neighbouring shards' locks do not share one
	entryGrowStart = 16
)

// MemoryStore is the in-memory [Store]: a token bucket from
// golang.org/x/time/rate per key, in sharded maps holding at most a fixed
// number of keys, so that a flood of new keys (spoofed, random, or a botnet's)
// cannot grow it past its bound.
//
// A new key over the bound evicts one: each shard sweeps its keys like a
// clock hand, taking the first that is idle long enough to have refilled (its
// bucket is as good as new, so forgetting it changes nothing) or that has
// not been used since the hand last passed. A new key counts as unused until
// its second request, so keys seen once, as a flood's are, go first, and a
// client that keeps coming back keeps its bucket. An evicted client that
// returns starts with a full bucket, which is the price of the bound: size it
// above the number of clients active within a bucket's fill time
// (Burst/Rate).
//
// Keys from a RateLimiter's default client address take a path that
// allocates nothing once the key is tracked; other keys are strings. A
// MemoryStore is safe for concurrent use.
type MemoryStore struct {
	shards    []memShard
	mask      uint64
	seed      maphash.Seed
	evictions atomic.Uint64
}

// memKey is a bucket's key: a client address from the RateLimiter's default
// key, or a string.
type memKey struct {
	addr netip.Addr
	s    string
}

type memShard struct {
	mu sync.Mutex
	// Two indexes into entries, so that each kind of key is hashed the
	// fast way: an address as 24 bytes of memory, a string as a string.
	addrs   map[netip.Addr]int32
	strs    map[string]int32
	entries []memEntry
	hand    int // the next entry the eviction sweep looks at
	max     int
	_       [shardPadding]byte
}

type memEntry struct {
	key     memKey
	lim     *rate.Limiter
	q       Quota
	fill    int64 // nanoseconds an empty bucket takes to fill up
	last    int64 // when the last request came, in Unix nanoseconds
	visited bool  // used again since the sweep last passed
}

// NewMemoryStore returns a MemoryStore tracking at most maxKeys keys; zero
// means [DefaultMaxKeys]. It panics if maxKeys is negative.
func NewMemoryStore(maxKeys int) *MemoryStore {
	if maxKeys < 0 {
		panic("limits: NewMemoryStore: maxKeys must not be negative")
	}
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	n := 1
	if k := maxKeys / keysPerShard; k > 1 {
		n = min(1<<bits.Len(uint(k-1)), maxShards)
	}
	s := &MemoryStore{shards: make([]memShard, n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].max = maxKeys / n
		if i < maxKeys%n {
			s.shards[i].max++
		}
		s.shards[i].addrs = make(map[netip.Addr]int32)
		s.shards[i].strs = make(map[string]int32)
	}
	return s
}

// Allow takes a token from key's bucket under q, as [Store] requires. It
// fails only with [ErrInvalidQuota].
func (s *MemoryStore) Allow(_ context.Context, key string, q Quota, now time.Time) (Decision, error) {
	if !q.valid() {
		return Decision{}, ErrInvalidQuota
	}
	return s.take(memKey{s: key}, q, now, true), nil
}

// Len returns the number of keys tracked.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// Evictions returns the number of keys ever evicted to make room for new ones.
func (s *MemoryStore) Evictions() uint64 { return s.evictions.Load() }

// take takes a token from k's bucket. Unless detail is set, an allowed request
// learns only that: finding the bucket's level costs a second look.
func (s *MemoryStore) take(k memKey, q Quota, now time.Time, detail bool) Decision {
	sh := s.shard(k)
	ns := now.UnixNano()
	sh.mu.Lock()
	i, ok := sh.find(k)
	if ok {
		sh.entries[i].visited = true
	} else {
		i = sh.insert(k, q, ns)
		if i < 0 {
			s.evictions.Add(1)
			i = ^i
		}
	}
	e := &sh.entries[i]
	e.last = ns
	if e.q != q {
		e.lim.SetLimitAt(now, q.Rate)
		e.lim.SetBurstAt(now, q.Burst)
		e.q, e.fill = q, int64(q.fillTime())
	}
	allowed := e.lim.AllowN(now, 1)
	if allowed && !detail {
		sh.mu.Unlock()
		return Decision{Allowed: true}
	}
	tokens := e.lim.TokensAt(now)
	sh.mu.Unlock()
	return q.decision(allowed, tokens)
}

// shard returns the shard of k. The hash is seeded per store, so that a
// client cannot pick keys that crowd one shard.
func (s *MemoryStore) shard(k memKey) *memShard { return &s.shards[s.shardIndex(k)] }

func (s *MemoryStore) shardIndex(k memKey) uint64 {
	if s.mask == 0 {
		return 0
	}
	if k.addr.IsValid() {
		return maphash.Comparable(s.seed, k.addr) & s.mask
	}
	return maphash.String(s.seed, k.s) & s.mask
}

func (sh *memShard) find(k memKey) (int32, bool) {
	if k.addr.IsValid() {
		i, ok := sh.addrs[k.addr]
		return i, ok
	}
	i, ok := sh.strs[k.s]
	return i, ok
}

func (sh *memShard) set(k memKey, i int32) {
	if k.addr.IsValid() {
		sh.addrs[k.addr] = i
	} else {
		sh.strs[k.s] = i
	}
}

func (sh *memShard) forget(k memKey) {
	if k.addr.IsValid() {
		delete(sh.addrs, k.addr)
	} else {
		delete(sh.strs, k.s)
	}
}

// insert adds k with a full bucket and returns its index, or the index's
// complement if it evicted another key to make room.
func (sh *memShard) insert(k memKey, q Quota, ns int64) int32 {
	k.s = strings.Clone(k.s) // not to pin whatever the key was cut from
	if n := len(sh.entries); n < sh.max {
		if n == cap(sh.entries) {
			grown := make([]memEntry, n, min(max(2*n, entryGrowStart), sh.max))
			copy(grown, sh.entries)
			sh.entries = grown
		}
		sh.entries = append(sh.entries, memEntry{key: k, lim: rate.NewLimiter(q.Rate, q.Burst), q: q, fill: int64(q.fillTime()), last: ns})
		sh.set(k, int32(n))
		return int32(n)
	}
	i := sh.victim(ns)
	e := &sh.entries[i]
	sh.forget(e.key)
	lim := e.lim
	if ns-e.last < e.fill || e.q != q {
		lim = rate.NewLimiter(q.Rate, q.Burst)
	} // else the bucket has refilled while idle: reuse it as it is
	*e = memEntry{key: k, lim: lim, q: q, fill: int64(q.fillTime()), last: ns}
	sh.set(k, int32(i))
	return ^int32(i)
}

// victim moves the hand to the first entry that is idle and full or not
// visited since the hand last passed, clearing visited marks on its way, and
// returns that entry's index. One turn clears every mark, so it stops within
// two.
func (sh *memShard) victim(ns int64) int {
	n := len(sh.entries)
	for range 2 * n {
		i := sh.hand
		if sh.hand++; sh.hand == n {
			sh.hand = 0
		}
		e := &sh.entries[i]
		if !e.visited || ns-e.last >= e.fill {
			return i
		}
		e.visited = false
	}
	return sh.hand
}
