package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/redisstore/redistest"
)

// TestCluster runs the Store on a Redis Cluster of three primaries, through
// a rueidis client that finds the cluster from one node: every client key is
// one key, so its script runs on the node owning that key's slot, and the
// keys of many clients spread over every node. Each key's bucket holds
// exactly its burst, as on a single node, and no call fails (a script
// touching keys of two slots would get CROSSSLOT).
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs()[:1], DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := New(Rueidis(c), Config{Mode: FailClosed, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := limits.Quota{Rate: 0.01, Burst: 3}
	const clients = 60
	for i := range clients {
		key := fmt.Sprintf("client-%d", i)
		allowed := 0
		for range 5 {
			d, err := s.Allow(ctx, key, q, time.Now())
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if d.Allowed {
				allowed++
			}
		}
		if allowed != 3 {
			t.Errorf("%s: %d of 5 allowed, want the burst, 3", key, allowed)
		}
	}
	total := 0
	for _, node := range cl.Nodes {
		n, err := node.Do("DBSIZE")
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := strconv.Atoi(n)
		if keys == 0 {
			t.Errorf("node %s holds no key: the keys did not spread over the cluster", node.Addr)
		}
		total += keys
	}
	if total != clients {
		t.Errorf("%d keys across the nodes, want one per client, %d", total, clients)
	}
	if st := s.Stats(); st.FailuresTotal() != 0 || st.Decided != clients*5 {
		t.Errorf("Stats: %+v, want %d decided and no failure", st, clients*5)
	}
}
