package limits

import (
	"encoding/binary"
	"net"
	"sync"
)

// clientKey is the client a connection counts against: an IP network, the
// address's bits past the configured prefix length cleared (IPv4 in its
// IPv4-mapped IPv6 form), or, for a Unix-socket peer, its user id, or Unix
// peers as one when the id cannot be read. It holds no pointer, so that
// the table costs the garbage collector nothing to scan.
type clientKey struct {
	hi, lo uint64 // the network, as a 128-bit IPv6 address; zero for a Unix peer
	uid    int64  // a Unix peer's uid; -1 for an IP client or an unknown uid
}

// clientShards is the number of locks the client table is split under, so
// that accepts on several listeners rarely meet on one; shard uses the top 5
// bits of a hash.
const clientShards = 32

// shrinkFloor is the size under which a shard's map is not copied into a
// smaller one: small maps cost little, and copying them would only churn.
// A shard that empties after holding more than emptyFloor clients gets a
// new, empty map.
const (
	shrinkFloor = 1024
	emptyFloor  = 64
)

// clientConns counts the open connections of each client, for
// MaxConnectionsPerClient. A client's entry exists only while it has a
// connection open: it is removed when its count returns to zero, so the
// table holds at most one entry per open connection, however many distinct
// addresses come and go. Go maps keep their memory after deletes, so a
// shard whose map falls to a quarter of its peak (and past shrinkFloor) is
// copied into a new map and the old one freed, and one that empties is
// replaced: after a flood, memory returns.
type clientConns struct {
	max    int32
	v4, v6 int
	shards [clientShards]clientShard
}

type clientShard struct {
	mu   sync.Mutex
	m    map[clientKey]int32
	peak int
	_    [40]byte // keep shards on separate cache lines
}

func newClientConns(max, v4, v6 int) *clientConns {
	t := &clientConns{max: int32(max), v4: v4, v6: v6}
	for i := range t.shards {
		t.shards[i].m = make(map[clientKey]int32)
	}
	return t
}

// key returns the client c counts against. Over a Unix socket that is the
// peer's uid (SO_PEERCRED, on Linux), or every Unix peer as one where it
// cannot be read; otherwise the remote IP address, IPv4-mapped IPv6 taken
// as IPv4, grouped by prefix. A remote address that is neither (a test's
// pipe) is one client.
func (t *clientConns) key(c net.Conn) clientKey {
	if _, ok := c.RemoteAddr().(*net.UnixAddr); ok {
		return clientKey{uid: peerUID(c)}
	}
	if la := c.LocalAddr(); la != nil && la.Network() == "unix" {
		return clientKey{uid: peerUID(c)}
	}
	return t.addrKey(c.RemoteAddr())
}

// addrKey returns the client at a: its IP address (of a *net.TCPAddr or
// *net.UDPAddr) grouped by prefix, or, for any other address, one client
// for them all.
func (t *clientConns) addrKey(a net.Addr) clientKey {
	switch a := a.(type) {
	case *net.TCPAddr:
		return t.ipKey(a.IP)
	case *net.UDPAddr:
		return t.ipKey(a.IP)
	}
	return clientKey{uid: -1}
}

// ipKey returns the network of ip, cleared past the prefix length of its
// family; a zone (fe80::1%eth0) plays no part.
func (t *clientConns) ipKey(ip net.IP) clientKey {
	if v4 := ip.To4(); v4 != nil {
		x := binary.BigEndian.Uint32(v4) & (^uint32(0) << (32 - t.v4))
		return clientKey{lo: 0xffff<<32 | uint64(x), uid: -1}
	}
	if len(ip) != net.IPv6len {
		return clientKey{uid: -1}
	}
	hi, lo := binary.BigEndian.Uint64(ip[:8]), binary.BigEndian.Uint64(ip[8:])
	if t.v6 >= 64 {
		lo &= ^uint64(0) << (128 - t.v6) // a shift by 64 clears
	} else {
		hi &= ^uint64(0) << (64 - t.v6)
		lo = 0
	}
	return clientKey{hi: hi, lo: lo, uid: -1}
}

// shard picks k's shard from a multiplicative hash of its network (whose
// cleared bits are zero) and uid.
func (t *clientConns) shard(k clientKey) *clientShard {
	h := (k.hi*0x9e3779b97f4a7c15 ^ k.lo ^ uint64(k.uid)) * 0xff51afd7ed558ccd
	return &t.shards[h>>59] // the top 5 bits: 32 shards
}

// acquire counts a connection of k's client, unless it already has max open.
func (t *clientConns) acquire(k clientKey) bool {
	return t.acquireIn(t.shard(k), k)
}

func (t *clientConns) acquireIn(s *clientShard, k clientKey) bool {
	s.mu.Lock()
	n := s.m[k]
	if n >= t.max {
		s.mu.Unlock()
		return false
	}
	s.m[k] = n + 1
	if n == 0 {
		s.peak = max(s.peak, len(s.m))
	}
	s.mu.Unlock()
	return true
}

// release gives back a connection of k's client, forgetting the client when
// it has none left.
func (t *clientConns) release(k clientKey) { t.releaseIn(t.shard(k), k) }

func (t *clientConns) releaseIn(s *clientShard, k clientKey) {
	s.mu.Lock()
	switch n := s.m[k]; {
	case n > 1:
		s.m[k] = n - 1
	case n == 1:
		delete(s.m, k)
		if len(s.m) == 0 && s.peak > emptyFloor {
			s.m, s.peak = make(map[clientKey]int32), 0
		} else if s.peak > shrinkFloor && len(s.m) < s.peak/4 {
			m := make(map[clientKey]int32, len(s.m))
			for k, v := range s.m {
				m[k] = v
			}
			s.m, s.peak = m, len(m)
		}
	}
	s.mu.Unlock()
}

// clients returns the number of clients with a connection open. It takes
// each shard's lock in turn, which only Stats does, rather than keep a
// shared counter that every accept and close would contend for.
func (t *clientConns) clients() int64 {
	var n int64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += int64(len(s.m))
		s.mu.Unlock()
	}
	return n
}

// clientSlot is a connection's hold on its client's count, released once.
type clientSlot struct {
	t *clientConns // nil: the connection holds none
	s *clientShard
	k clientKey
}

// hold takes a slot of k's client, if it has one left.
func (t *clientConns) hold(k clientKey) (clientSlot, bool) {
	s := t.shard(k)
	if !t.acquireIn(s, k) {
		return clientSlot{}, false
	}
	return clientSlot{t: t, s: s, k: k}, true
}

// release gives the slot back, once; it does nothing on a nil s.
func (s *clientSlot) release() {
	if s != nil && s.t != nil {
		s.t.releaseIn(s.s, s.k)
		s.t = nil
	}
}
