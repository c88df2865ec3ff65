package metrics

import (
	"hash/maphash"
	"net"
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
		cs[i], recs[i] = &tableConn{id: i}, &conn{}
		if got, loaded := tab.add(cs[i], recs[i]); loaded || got != recs[i] {
			t.Fatalf("add %d: %p, %v; want the record added", i, got, loaded)
		}
	}
	if got, loaded := tab.add(cs[7], &conn{}); !loaded || got != recs[7] {
		t.Errorf("a second add returned %p, %v; want the first record, loaded", got, loaded)
	}
	// Remove all but every 100th: every shard falls below an eighth of its
	// peak, so each is copied into a smaller map.
	for i := range cs {
		if i%100 != 0 {
			tab.remove(cs[i])
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
