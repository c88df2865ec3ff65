package certauth

import (
	"sync"
	"sync/atomic"
	"time"
)

// cacheKey names a validation result: the certificate's DER encoding, and
// whether it was forwarded (a forwarded certificate is validated without the
// intermediates a handshake carries, and Validate may tell the two apart).
// Keyed by the bytes themselves, a lookup costs the map's hash of them, not
// a SHA-256 per request.
type cacheKey struct {
	der       string
	forwarded bool
}

// result is a successful validation and the time it holds for.
type result struct {
	id        *Identity
	gen       uint64    // CRL generation validated against
	notBefore time.Time // the latest NotBefore of the chain
	notAfter  time.Time // the earliest NotAfter of the chain, or CRL NextUpdate
}

// holds reports whether r still answers for a validation at now under CRL
// generation gen.
func (r *result) holds(now time.Time, gen uint64) bool {
	return r.gen == gen && !now.Before(r.notBefore) && !now.After(r.notAfter)
}

// cache keeps up to max successful validations, least recently used first
// out, each dropped ttl after its last use. Failures are not kept, so a flood
// of bad certificates cannot push good results out. A nil *cache keeps
// nothing. It is safe for concurrent use.
type cache struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	m    map[cacheKey]*entry
	ring entry // ring.next is the most recently used, ring.prev the least

	hits, misses atomic.Uint64
}

type entry struct {
	key        cacheKey
	res        result
	used       time.Time
	prev, next *entry
}

func newCache(max int, ttl time.Duration) *cache {
	if max <= 0 {
		return nil
	}
	// The map grows as certificates come: sized for 1,024 up front, it held
	// 80 KB in every server, with or without clients that send one.
	c := &cache{max: max, ttl: ttl, m: make(map[cacheKey]*entry)}
	c.ring.next, c.ring.prev = &c.ring, &c.ring
	return c
}

// get returns the result for the certificate der if it holds at now under
// generation gen, and marks it used. Looking der up does not copy it.
func (c *cache) get(der []byte, forwarded bool, now time.Time, gen uint64) *Identity {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e := c.m[cacheKey{string(der), forwarded}]
	if e == nil {
		c.mu.Unlock()
		c.misses.Add(1)
		return nil
	}
	if !e.res.holds(now, gen) || now.Sub(e.used) > c.ttl {
		c.remove(e)
		c.mu.Unlock()
		c.misses.Add(1)
		return nil
	}
	e.used = now
	c.unlink(e)
	c.pushFront(e)
	id := e.res.id
	c.mu.Unlock()
	c.hits.Add(1)
	return id
}

// put stores res for the certificate der, dropping the least recently used
// results past the bound and those unused for longer than ttl.
func (c *cache) put(der []byte, forwarded bool, res result, now time.Time) {
	if c == nil {
		return
	}
	k := cacheKey{string(der), forwarded}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		e.res, e.used = res, now
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &entry{key: k, res: res, used: now}
	c.m[k] = e
	c.pushFront(e)
	for last := c.ring.prev; last != &c.ring && (len(c.m) > c.max || now.Sub(last.used) > c.ttl); last = c.ring.prev {
		c.remove(last)
	}
}

func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *cache) remove(e *entry) {
	c.unlink(e)
	delete(c.m, e.key)
}

func (c *cache) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *cache) pushFront(e *entry) {
	e.prev, e.next = &c.ring, c.ring.next
	c.ring.next.prev = e
	c.ring.next = e
}
