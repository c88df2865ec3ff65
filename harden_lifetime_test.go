package windhover_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

// TestHardenConnectionLifetimes: Harden retires connections at
// MaxRequestsPerConnection over every protocol, through the Limiter's
// Handler and the ConnContext its Apply chains, and its Listener bounds
// the connections of each client.
func TestHardenConnectionLifetimes(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			ts, s := hardened(t, windhover.Config{Limits: limits.Config{MaxRequestsPerConnection: 3, MaxConnectionsPerClient: 5}}, p)
			for range 9 {
				code, _ := do(t, ts, "GET", "/", "example.com", "")
				require.Equal(t, 200, code)
			}
			testserver.Eventually(t, func() bool { return s.Stats().Limits.ConnectionsRetiredByRequests == 3 },
				"retired %d, want 3", s.Stats().Limits.ConnectionsRetiredByRequests)

			// Five connections from 127.0.0.2 are held; its sixth is refused.
			// (127.0.0.1's client, whose retired connections may still be
			// closing as it opens new ones, stays under its five.)
			for range 6 {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", ts.Listener.Addr().String())
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
			}
			testserver.Eventually(t, func() bool { return s.Stats().Limits.Rejected[limits.ReasonClientConnectionLimit] == 1 },
				"refused %d", s.Stats().Limits.Rejected[limits.ReasonClientConnectionLimit])
		})
	}
}
