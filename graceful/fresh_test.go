package graceful

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// valueConn is a connection type that is not a pointer: two interface
// values holding equal valueConns are equal map keys, though each holds its
// own copy.
type valueConn struct {
	net.Conn
	id int
}

// wrappedConn is a connection wrapper that leads to the connection beneath
// it, as *tls.Conn and windhover's wrappers do.
type wrappedConn struct{ net.Conn }

func (w *wrappedConn) NetConn() net.Conn { return w.Conn }

// TestFreshSetFilter holds the fresh set's filter to the set, through random
// adds and removes: a connection in the set always has its bit set, whether
// the set holds fewer connections than the filter's 64 bits or more; equal
// connections of a non-pointer type are found as one; a connection reported
// through a wrapper is found beneath it; one not in the set is left alone;
// and an empty set has an empty filter.
func TestFreshSetFilter(t *testing.T) {
	var f freshSet
	in := map[net.Conn]bool{}
	check := func(step string) {
		t.Helper()
		require.EqualValues(t, len(in), f.len(), "%s: size", step)
		var want uint64
		for c := range in {
			_, ok := f.conns[c]
			require.True(t, ok, "%s: a connection is missing", step)
			bit, _ := freshBit(c)
			want |= bit
		}
		require.Equal(t, want, f.bits.Load()&want, "%s: a connection's bit is clear", step)
		if len(in) == 0 {
			require.Zero(t, f.bits.Load(), "%s: an empty set's filter", step)
		}
	}
	// conn returns connection i, a new interface value each time: a
	// valueConn for even i, a pointer for odd i (the same one each time).
	pointers := map[int]*valueConn{}
	conn := func(i int) net.Conn {
		if i%2 == 0 {
			return valueConn{id: i}
		}
		if pointers[i] == nil {
			pointers[i] = &valueConn{id: i}
		}
		return pointers[i]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pool := range []int{40, 200} { // below the filter's 64 bits, then above
		for step := range 3000 {
			c := conn(rng.IntN(pool))
			if rng.IntN(2) == 0 {
				f.add(c)
				in[c] = true
			} else {
				f.remove(c)
				delete(in, c)
			}
			check(fmt.Sprintf("pool %d, step %d", pool, step))
		}
	}

	for c := range in {
		f.remove(c)
		delete(in, c)
	}
	check("all removed")

	// Through a wrapper, in a set of one, whose filter has the one bit:
	// each layer's bit must be looked at, not only the wrapper's.
	for i := range 100 {
		var f freshSet
		inner := &valueConn{id: i}
		f.add(inner)
		f.remove(&valueConn{id: i}) // another connection, equal but not the same pointer
		require.EqualValues(t, 1, f.len(), "a connection not in the set was removed")
		f.remove(&wrappedConn{inner})
		require.Zero(t, f.len(), "not removed through a wrapper")

		// Through a wrapper that puts the connection's innermost layer
		// beyond the walk's bound: the lock decides.
		var deep net.Conn = inner
		for range 31 {
			deep = &wrappedConn{deep}
		}
		f.add(deep)
		f.remove(&wrappedConn{deep})
		require.Zero(t, f.len(), "not removed through a wrapper past the walk's bound")
	}
}
