package limits

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/windhover/windhover/internal/stripe"
)

// DefaultMaxKeys is how many keys a [MemoryStore] tracks when given zero:
// about 30 MB at most, some 300 bytes a key.
const DefaultMaxKeys = 100_000

// Sharding: enough shards that parallel requests rarely meet on one lock,
// few enough that a small store's keys are not spread too thin.
const (
	maxShards    = 64
	keysPerShard = 1024
	shardPadding = 64 // a cache line, so that neighbouring shards' locks do not share one
)

// MemoryStore is the in-memory [Store]: a token bucket per key, taken from
// without a lock, in sharded maps holding at most a fixed
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
// A request for a tracked key allocates nothing. Once the store is full, a
// new key reuses the evicted key's place and bucket, so that a flood costs no
// allocation either, except a copy of each string key (a RateLimiter's
// default key, the client address, is not a string). A MemoryStore is safe
// for concurrent use.
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
	// A request for a tracked key holds one of the read locks, its
	// processor's (stripe.Here), while it takes its token from the bucket
	// without a lock; inserting or evicting a key, or changing a key's
	// quota, holds them all. Requests on different cores most often hold
	// different read locks, so that they do not contend for one cache line
	// as they would for a sync.RWMutex's count of readers, even when they
	// come from one client.
	readers [stripe.Cells]readLock
	// Two indexes into the entries, so that each kind of key is hashed the
	// fast way: an address as 24 bytes of memory, a string as a string.
	addrs map[netip.Addr]int32
	strs  map[string]int32
	// The entries, in chunks allocated as needed and never moved: each
	// holds its bucket, which must not be copied.
	chunks [][]memEntry
	n      int // entries in use
	hand   int // the next entry the eviction sweep looks at
	max    int
	_      [shardPadding]byte
}

// readLock is one of a shard's read locks, on cache lines of its own.
type readLock struct {
	sync.RWMutex
	_ [stripe.CellSize - unsafe.Sizeof(sync.RWMutex{})]byte
}

// lock locks sh for writing: every read lock, in order.
func (sh *memShard) lock() {
	for i := range sh.readers {
		sh.readers[i].Lock()
	}
}

// unlock undoes lock.
func (sh *memShard) unlock() {
	for i := range sh.readers {
		sh.readers[i].Unlock()
	}
}

// entriesPerChunk is how many entries a shard allocates at a time.
const entriesPerChunk = 256

type memEntry struct {
	// The first cache line: the key, and what a request writes rarely.
	key  memKey
	last int64 // when a request last came, in Unix nanoseconds, within touchEvery; written under the read lock, so atomically
	// visited is 1 if the key was used again since the sweep last passed;
	// written under the read lock, so atomically.
	visited uint32
	_       uint32
	fill    int64 // nanoseconds an empty bucket takes to fill up

	// The second: the bucket, which every request for the key writes, and
	// its quota, read with it.
	q    Quota
	t    float64       // the emission interval: nanoseconds a token takes, 1e9/q.Rate
	ref  int64         // Unix nanoseconds that full is measured from
	span int64         // how long after ref the bucket is measured from a later one: see rebaseSpan
	full atomic.Uint64 // float64 bits: when, in ns after ref, the bucket is full again if no request comes
	seen atomic.Int64  // the latest Unix nanoseconds a request was decided at
	_    [8]byte
}

// touchEvery is how stale an entry's last request time may be: readers write
// it no more often, so that a busy key's requests do not all write to it.
const touchEvery = int64(time.Millisecond)

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
	return s.take(memKey{s: key}, q, now.UnixNano(), true, stripe.Here()), nil
}

// Len returns the number of keys tracked.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.readers[0].RLock()
		n += sh.n
		sh.readers[0].RUnlock()
	}
	return n
}

// Evictions returns the number of keys ever evicted to make room for new ones.
func (s *MemoryStore) Evictions() uint64 { return s.evictions.Load() }

// take takes a token from k's bucket at ns, Unix nanoseconds, holding the
// shard's read lock reader (below stripe.Cells) if the key is tracked.
// Unless detail is set, an allowed request learns only that: finding the
// bucket's level costs a second look, and with concurrent requests for the
// key the level is approximate.
func (s *MemoryStore) take(k memKey, q Quota, ns int64, detail bool, reader int) Decision {
	sh := s.shard(k)
	rl := &sh.readers[uint(reader)%stripe.Cells]
	rl.RLock()
	if i, ok := sh.find(k); ok {
		if e := sh.entry(i); e.q == q && ns-e.ref < e.span {
			e.touch(ns)
			d := e.take(q, ns, detail)
			rl.RUnlock()
			return d
		}
	}
	rl.RUnlock()

	sh.lock()
	i, ok := sh.find(k)
	if ok {
		sh.entry(i).touch(ns)
	} else if i = sh.insert(k, q, ns); i < 0 {
		s.evictions.Add(1)
		i = ^i
	}
	e := sh.entry(i)
	if e.q != q || ns-e.ref >= e.span {
		e.requota(q, ns)
	}
	d := e.take(q, ns, detail)
	sh.unlock()
	return d
}

// touch records a request for a tracked key.
func (e *memEntry) touch(ns int64) {
	if atomic.LoadUint32(&e.visited) == 0 {
		atomic.StoreUint32(&e.visited, 1)
	}
	if ns-atomic.LoadInt64(&e.last) >= touchEvery {
		atomic.StoreInt64(&e.last, ns)
	}
}

// idle reports whether e's bucket has surely refilled by ns.
func (e *memEntry) idle(ns int64) bool { return ns-atomic.LoadInt64(&e.last) >= e.fill+touchEvery }

// take takes a token from e's bucket at ns, Unix nanoseconds, if it holds
// one. The bucket is kept as the time it is full again (GCRA's theoretical
// arrival time): it holds Burst - wait/t tokens, wait being how long until
// then. A token taken moves that time t later, by one compare-and-swap, so
// that requests for one key on several cores take no lock.
//
// A request whose time is earlier than one already decided (two cores read
// the clock in one order and reach the bucket in the other) is decided at
// the later time, as rate.Limiter decides it: no time has passed for the
// bucket, and the request is not charged for the gap.
//
// The arithmetic is float64's, as rate.Limiter's token count is, on times
// measured from ref, which moves up every span (see rebaseSpan) so that they
// stay exact to a small part of a token; a count within tokenSlack of a
// whole token is taken as that token, so that rounding never costs a client
// one.
func (e *memEntry) take(q Quota, ns int64, detail bool) Decision {
	ns = e.latest(ns)
	b := float64(q.Burst)
	now := float64(ns - e.ref)
	for {
		bits := e.full.Load()
		wait := max(math.Float64frombits(bits)-now, 0)
		held := whole(b - wait/e.t)
		if held < 1 {
			return q.decision(false, held)
		}
		next := now + wait + e.t
		if e.full.CompareAndSwap(bits, math.Float64bits(next)) {
			if !detail {
				return Decision{Allowed: true}
			}
			return q.decision(true, held-1)
		}
	}
}

// latest returns the later of ns and the latest time e decided at, and
// makes ns that time if it is the later.
func (e *memEntry) latest(ns int64) int64 {
	for {
		seen := e.seen.Load()
		if ns <= seen {
			return seen
		}
		if e.seen.CompareAndSwap(seen, ns) {
			return ns
		}
	}
}

// rebaseSpan is how long after its ref a bucket of emission interval t is
// measured from a later one: within it a float64 time is exact to 2^-16 of
// a token (its step is 2^-52 of the time), at most 2^46 ns (19.5 hours)
// apart and at least a second. A bucket is measured anew, holding the
// tokens it held, by the first request after its span, which takes the
// shard's write lock for it.
func rebaseSpan(t float64) int64 {
	return int64(min(max(t*(1<<36), 1e9), 1<<46))
}

// tokenSlack is how near a whole number of tokens a bucket's count, as
// computed, may be and still be taken as that number: float64 rounding in
// the bucket's times, a few parts in 10^16 of them, moves it by less.
const tokenSlack = 1e-9

// whole returns tokens, or the whole number of tokens it is within
// tokenSlack of.
func whole(tokens float64) float64 {
	if r := math.Round(tokens); math.Abs(tokens-r) < tokenSlack {
		return r
	}
	return tokens
}

// tokens returns what e's bucket holds at ns, at most its Burst.
func (e *memEntry) tokens(ns int64) float64 {
	wait := max(math.Float64frombits(e.full.Load())-float64(ns-e.ref), 0)
	return whole(float64(e.q.Burst) - wait/e.t)
}

// requota gives e's bucket the quota q from ns on (or from the latest time
// it decided at, if later), keeping the tokens it holds up to q's Burst: it
// refilled at the old rate until then, and refills at q's from then. It also
// measures the bucket anew from then (see rebaseSpan). The shard must be
// locked for writing.
func (e *memEntry) requota(q Quota, ns int64) {
	ns = e.latest(ns)
	tokens := min(e.tokens(ns), float64(q.Burst))
	e.q, e.fill, e.t, e.ref = q, int64(q.fillTime()), 1e9/float64(q.Rate), ns
	e.span = rebaseSpan(e.t)
	e.full.Store(math.Float64bits((float64(q.Burst) - tokens) * e.t))
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

func (sh *memShard) entry(i int32) *memEntry {
	return &sh.chunks[i/entriesPerChunk][i%entriesPerChunk]
}

// insert adds k with a full bucket and returns its index, or the index's
// complement if it evicted another key to make room. The shard must be locked
// for writing.
func (sh *memShard) insert(k memKey, q Quota, ns int64) int32 {
	k.s = strings.Clone(k.s) // not to pin whatever the key was cut from
	i, evicted := int32(sh.n), false
	if sh.n < sh.max {
		if sh.n%entriesPerChunk == 0 {
			sh.chunks = append(sh.chunks, make([]memEntry, min(entriesPerChunk, sh.max-sh.n)))
		}
		sh.n++
	} else {
		i, evicted = sh.victim(ns), true
		sh.forget(sh.entry(i).key)
	}
	e := sh.entry(i)
	if evicted && e.q == q && e.idle(ns) {
		// The bucket has refilled while idle: it is as good as new.
	} else {
		e.refill(q, ns)
	}
	e.key, e.last, e.visited = k, ns, 0
	sh.set(k, i)
	if evicted {
		return ^i
	}
	return i
}

// refill makes e's bucket a full one under q, measured from ns.
func (e *memEntry) refill(q Quota, ns int64) {
	e.q, e.fill, e.t, e.ref = q, int64(q.fillTime()), 1e9/float64(q.Rate), ns
	e.span = rebaseSpan(e.t)
	e.full.Store(0) // full at ref
	e.seen.Store(ns)
}

// victim moves the hand to the first entry that is idle and full or not
// visited since the hand last passed, clearing visited marks on its way, and
// returns that entry's index. One turn clears every mark, so it stops within
// two.
func (sh *memShard) victim(ns int64) int32 {
	n := sh.n
	for range 2 * n {
		i := int32(sh.hand)
		if sh.hand++; sh.hand == n {
			sh.hand = 0
		}
		e := sh.entry(i)
		if atomic.LoadUint32(&e.visited) == 0 || e.idle(ns) {
			return i
		}
		atomic.StoreUint32(&e.visited, 0)
	}
	return int32(sh.hand)
}
