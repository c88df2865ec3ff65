package graceful

import (
	"hash/maphash"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/netconn"
)

// The waits of a drain before it closes the listeners and before it calls
// Shutdown: each ends once nothing has happened for quietPeriod, and after
// maxSettle at most.
//
// quietPeriod is longer than a busy client takes to send its next request
// once it has its response, across a network or a loaded machine: after it,
// an idle connection is not one about to be used. maxSettle bounds the waits
// when new clients keep coming, whom they cannot help.
const (
	quietPeriod = 100 * time.Millisecond
	maxSettle   = time.Second
)

// sawWhileStopping records, once the stop has begun, when a connection was
// accepted and when a request began on one.
func (g *Group) sawWhileStopping(state http.ConnState) {
	switch state {
	case http.StateNew:
		g.lastAccept.Store(g.sinceEpoch())
	case http.StateActive:
		g.lastRequest.Store(g.sinceEpoch())
	}
}

// sinceEpoch is the time elapsed since the group was made, at least 1 so
// that 0 means "never".
func (g *Group) sinceEpoch() int64 { return int64(time.Since(g.epoch)) + 1 }

// awaitQuiet waits until what last records has not happened for the quiet
// period and, if fresh is not nil, every connection in it has had its first
// request read; for settleMax at most, and no longer than done is open and
// the close is not forced.
func (g *Group) awaitQuiet(last *atomic.Int64, fresh *freshSet, done <-chan struct{}) {
	limit := time.NewTimer(g.settleMax)
	defer limit.Stop()
	for {
		var left time.Duration // of the quiet period
		if at := last.Load(); at != 0 {
			left = g.quiet - time.Duration(g.sinceEpoch()-at)
		}
		if left <= 0 && (fresh == nil || fresh.len() == 0) {
			return
		}
		// An unreferenced timer is collected, stopped or not (Go 1.23).
		select {
		case <-time.After(max(left, time.Millisecond)):
		case <-limit.C:
			return
		case <-done:
			return
		case <-g.forceCh:
			return
		}
	}
}

// closeAccepted closes the servers' listeners, each once its accept queue
// is empty: closing a listening socket resets every connection the kernel
// has completed and Serve has not accepted yet, and a client that sent its
// request on one has it dropped, on a fresh connection, which clients do not
// retry. Only a client whose connection completes between the last look
// at the queue and the close is still reset. It waits for settleMax at most
// in all, and no longer than done is open and the close is not forced; it
// looks at the queues every millisecond on Linux (netconn.Backlog), and
// closes at once a listener whose queue it cannot see: outside Linux, or
// on a Unix socket.
func (g *Group) closeAccepted(servers []*server, done <-chan struct{}) {
	limit := time.NewTimer(g.settleMax)
	defer limit.Stop()
	waiting := true
	for _, s := range servers {
		if s.ln == nil {
			continue
		}
		for waiting {
			if n, ok := netconn.Backlog(s.ln); !ok || n == 0 {
				break
			}
			select {
			case <-time.After(time.Millisecond):
			case <-limit.C:
				waiting = false
			case <-done:
				waiting = false
			case <-g.forceCh:
				waiting = false
			}
		}
		_ = s.ln.Close()
	}
}

// freshSet holds the connections accepted whose first request has not been
// read yet (http.StateNew).
//
// The drain waits for them before it calls Shutdown: from that moment on,
// net/http closes without an answer every HTTP/1 connection whose request
// it reads (golang/go#65802, lest a request that raced the close of an idle
// connection be served on a closed one). A client that connected just
// before the listeners closed and sent its request would have it dropped,
// on a fresh connection, which clients do not retry.
//
// A request's every StateActive asks the set to forget its connection, and
// on a server that keeps accepting the set is seldom empty: so that the
// connections already forgotten take no lock, the set keeps a 64-bit filter,
// a bit for each connection in it, picked by its innermost layer's hash. A
// connection whose bit is clear is surely not in the set; one whose bit is
// set is looked up under the lock, which, with a handful of fresh
// connections at a time, is seldom.
type freshSet struct {
	n     atomic.Int64  // len(conns), read without the lock
	bits  atomic.Uint64 // the OR of conns' bits, read without the lock
	mu    sync.Mutex
	conns map[net.Conn]uint64 // each connection's bit
}

// freshSeed seeds the connections' hashes, so that clients cannot choose
// connections whose bits collide with the others'.
var freshSeed = maphash.MakeSeed()

// freshBit returns c's bit in the filter: that of its innermost layer, so
// that equal connections (as map keys), and every wrapper of a connection,
// have its bit; and false if c has more layers than netconn walks, whose
// bit then says nothing.
func freshBit(c net.Conn) (uint64, bool) {
	in, ok := netconn.Innermost(c)
	return 1 << (maphash.Comparable(freshSeed, in) >> 58), ok
}

func (f *freshSet) add(c net.Conn) {
	bit, _ := freshBit(c)
	f.mu.Lock()
	if f.conns == nil {
		f.conns = make(map[net.Conn]uint64)
	}
	f.conns[c] = bit
	f.bits.Store(f.bits.Load() | bit)
	f.n.Store(int64(len(f.conns)))
	f.mu.Unlock()
}

// remove forgets c, which has left http.StateNew. It costs one atomic load
// while the set is empty, and a walk to c's innermost layer, a hash and
// another load for a connection not in it, most often. The connections
// under c (netconn.Layers) are forgotten too, should a server report a
// wrapper of the connection it reported new.
func (f *freshSet) remove(c net.Conn) {
	if f.n.Load() == 0 {
		return
	}
	if bit, ok := freshBit(c); ok && f.bits.Load()&bit == 0 {
		return
	}
	f.mu.Lock()
	for l := range netconn.Layers(c) {
		delete(f.conns, l)
	}
	// The filter is made again from the connections left, at most 64
	// bits to gather; with more, it is kept as it is: it can only have
	// more bits than it needs, and with so many connections most of its
	// bits are set anyway.
	if len(f.conns) <= 64 {
		var left uint64
		for _, bit := range f.conns {
			left |= bit
		}
		f.bits.Store(left)
	}
	f.n.Store(int64(len(f.conns)))
	f.mu.Unlock()
}

// len returns how many connections have not had their first request read.
func (f *freshSet) len() int { return int(f.n.Load()) }

// closeSilent closes every connection whose first request has not been
// read and whose client has sent no byte at all, as the kernel counts them
// (netconn.Silent), and returns how many it closed. The drain calls it after
// it waited for first requests with the listeners closed: such a connection
// has no request on its way (a browser's preconnect, a client's spare), and
// net/http's Shutdown would otherwise wait up to 5 s for it (it treats a new
// connection as active until then). A connection whose client sent
// anything, read or not, is left to Shutdown: on a machine short of CPU the
// server may not yet have read a request that is there, and closing the
// connection would drop it, on a fresh connection, which clients do not
// retry.
func (f *freshSet) closeSilent() int64 {
	f.mu.Lock()
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	var n int64
	for _, c := range conns {
		if netconn.Silent(c) {
			_ = c.Close()
			n++
		}
	}
	return n
}
