package redisstore

import (
	"testing"

	"github.com/redis/rueidis"
	"github.com/windhover/windhover/redisstore/redistest"
)

// newClient returns a rueidis client on addr, closed when the test ends.
func newClient(tb testing.TB, addr string) rueidis.Client {
	tb.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// newStore returns a Store on a fresh redis-server, and the server.
func newStore(tb testing.TB, cfg Config) (*Store, *redistest.Server) {
	tb.Helper()
	srv := redistest.Start(tb)
	s, err := New(Rueidis(newClient(tb, srv.Addr)), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s, srv
}
