package redisstore

import (
	"testing"
	"time"

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

// newStore returns a Store on a fresh redis-server, and the server. A cfg
// with no mode, timeout or callback is made FailClosed with a timeout of 5 s, so that a test expecting Redis's
// decisions fails rather than get a fallback's on a busy machine.
func newStore(tb testing.TB, cfg Config) (*Store, *redistest.Server) {
	tb.Helper()
	if cfg.Mode == Fallback && cfg.Timeout == 0 && cfg.OnFailure == nil {
		cfg = Config{Mode: FailClosed, Timeout: 5 * time.Second}
	}
	srv := redistest.Start(tb)
	s, err := New(Rueidis(newClient(tb, srv.Addr)), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s, srv
}
