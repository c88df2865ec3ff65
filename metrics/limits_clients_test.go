package metrics

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

// The per-client connection limit's refusals and tracked clients, and the
// connections retired by MaxRequestsPerConnection, are exported.
func TestLimitsCollectorClientsAndRetired(t *testing.T) {
	m, _ := newMetrics(t, testConfig)
	lim, err := limits.New(limits.Config{MaxConnectionsPerClient: 1, MaxRequestsPerConnection: 1})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Limits(lim, "")))
	s := testserver.Start(t, lim.Handler(routes()), testserver.H1, func(ts *httptest.Server) {
		require.NoError(t, lim.Apply(ts.Config))
		ts.Listener = lim.Listener(ts.Listener)
	})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := c.Response(t)
	require.True(t, res.Close, "retired at its first request")
	require.True(t, c.ClosedByPeer(t))
	testserver.Eventually(t, func() bool { return lim.Stats().TrackedClients == 0 }, "client forgotten")

	testserver.Dial(t, s.Addr()) // holds the client's one slot
	testserver.Eventually(t, func() bool { return lim.Stats().TrackedClients == 1 }, "client tracked")
	require.True(t, testserver.Dial(t, s.Addr()).ClosedByPeer(t))
	eventually(t, reg, 1, "windhover_limits_rejected_connections_total", "reason", "client_connection_limit")
	eventually(t, reg, 0, "windhover_limits_rejected_connections_total", "reason", "connection_limit")
	eventually(t, reg, 1, "windhover_rejected_connections_total")
	eventually(t, reg, 1, "windhover_limits_tracked_clients")
	eventually(t, reg, 1, "windhover_limits_retired_connections_total", "reason", "max_requests_per_connection")
	eventually(t, reg, 0, "windhover_limits_retired_connections_total", "reason", "max_connection_age")
}
