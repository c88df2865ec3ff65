package metrics

import (
	"hash/maphash"
	"maps"
	"net"
	"sync"
)

// connShards is how many locks connTable spreads its connections over.
const connShards = 16

// connTable finds m's record of a connection from the net.Conn that
// net/http gives the ConnState hook, for the connections whose record the
// hook cannot find through an h1wire Conn (see Metrics.open). It is a plain
// map split in shards by the connection's hash, so that hooks of
// connections served on different cores rarely take one lock: an entry
// takes about 40 bytes, where a sync.Map's took 112 (its entry and its
// share of the trie's nodes), and each such connection holds one while it
// is open, idle or not (BenchmarkIdleConnections). A Go map
// never gives back the room it grew to, so a shard left with an eighth of
// its largest count is copied into a map of its size: a burst of
// connections does not hold its memory once it has gone.
type connTable struct {
	seed   maphash.Seed
	shards [connShards]connShard
}

type connShard struct {
	mu   sync.Mutex
	m    map[net.Conn]*conn
	peak int           // the most entries m has held since it was made
	_    [64 - 24]byte // a cache line of its own
}

func (t *connTable) shard(c net.Conn) *connShard {
	return &t.shards[maphash.Comparable(t.seed, c)%connShards]
}

// add keeps rec for c.
func (t *connTable) add(c net.Conn, rec *conn) {
	s := t.shard(c)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[net.Conn]*conn)
	}
	s.m[c] = rec
	s.peak = max(s.peak, len(s.m))
	s.mu.Unlock()
}

// find returns c's record, or nil.
func (t *connTable) find(c net.Conn) *conn {
	s := t.shard(c)
	s.mu.Lock()
	rec := s.m[c]
	s.mu.Unlock()
	return rec
}

// remove forgets rec, if the table still holds it: the same connection
// served by a second server (hijacked from the first and handed on) has its
// own record, which replaced rec.
func (t *connTable) remove(rec *conn) {
	c := rec.key
	s := t.shard(c)
	s.mu.Lock()
	if s.m[c] == rec {
		delete(s.m, c)
	}
	if n := len(s.m); n < s.peak/8 && s.peak >= shrinkFrom {
		small := make(map[net.Conn]*conn, n)
		maps.Copy(small, s.m) // not maps.Clone, which keeps the room
		s.m, s.peak = small, n
	}
	s.mu.Unlock()
}

// shrinkFrom is the smallest peak after which a shard's map is copied to
// give back its room: below it, the room is a few kilobytes.
const shrinkFrom = 256
