package metrics

import (
	"hash/maphash"
	"net"
	"sync"
	"testing"
)

// tableConn is a distinct net.Conn for the table's tests.
type tableConn struct {
	net.Conn
	id int
}

func TestConnTable(t *testing.T) {
	tab := connTable{seed: maphash.MakeSeed()}
	const n = 40 * shrinkFrom
	cs := make([]net.Conn, n)
	recs := make([]*conn, n)
	for i := range cs {
		cs[i] = &tableConn{id: i}
		recs[i] = &conn{key: cs[i]}
		tab.add(cs[i], recs[i])
	}
	// Remove all but every 100th: every shard falls below an eighth of its
	// peak, so each is copied into a smaller map.
	for i := range cs {
		if i%100 != 0 {
			tab.remove(recs[i])
		}
	}
	for i := range cs {
		want := recs[i]
		if i%100 != 0 {
			want = nil
		}
		if got := tab.find(cs[i]); got != want {
			t.Fatalf("find %d = %p, want %p", i, got, want)
		}
	}
	for i := range tab.shards {
		s := &tab.shards[i]
		if s.peak >= shrinkFrom || s.peak < len(s.m) {
			t.Errorf("shard %d: peak %d with %d entries; want the map copied to its size after the removals", i, s.peak, len(s.m))
		}
	}
}

// TestConnTableConcurrent runs the hooks of many connections at once, as
// net/http does: under -race, a lookup or change outside the shard's lock
// fails it.
func TestConnTableConcurrent(t *testing.T) {
	tab := connTable{seed: maphash.MakeSeed()}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2 * shrinkFrom {
				c := net.Conn(&tableConn{id: g<<20 | i})
				rec := &conn{key: c}
				tab.add(c, rec)
				if got := tab.find(c); got != rec {
					t.Errorf("find after add = %p, want %p", got, rec)
					return
				}
				tab.remove(rec)
				if got := tab.find(c); got != nil {
					t.Errorf("find after remove = %p, want nil", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestConnTableRemoveReplaced: a connection hijacked from one server and
// served by another has a record of each; the first one's end leaves the
// second's in the table.
func TestConnTableRemoveReplaced(t *testing.T) {
	tab := connTable{seed: maphash.MakeSeed()}
	c := net.Conn(&tableConn{})
	first, second := &conn{key: c}, &conn{key: c}
	tab.add(c, first)
	tab.add(c, second)
	tab.remove(first)
	if got := tab.find(c); got != second {
		t.Fatalf("find after the first record's removal = %p, want the second %p", got, second)
	}
	tab.remove(second)
	if got := tab.find(c); got != nil {
		t.Fatalf("find after both removals = %p, want nil", got)
	}
}

func TestConnTableFindAllocs(t *testing.T) {
	tab := connTable{seed: maphash.MakeSeed()}
	c := net.Conn(&tableConn{})
	tab.add(c, &conn{})
	if n := testing.AllocsPerRun(100, func() {
		if tab.find(c) == nil {
			t.Fatal("not found")
		}
	}); n != 0 {
		t.Errorf("find: %v allocations, want 0", n)
	}
}
