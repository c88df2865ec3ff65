package limits

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

const rawUpgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n"

// echoUpgrade switches to a line echo protocol and serves it until the client
// closes. Requests that do not ask to upgrade get "plain".
func echoUpgrade(calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		if r.Header.Get("Upgrade") == "" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString(line)
			_ = brw.Flush()
		}
	}
}

// upgradeClient upgrades a fresh connection and checks the echo works.
func upgradeClient(t *testing.T, c net.Conn) *bufio.Reader {
	t.Helper()
	br := bufio.NewReader(c)
	_, err := io.WriteString(c, rawUpgrade)
	require.NoError(t, err)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, res.StatusCode)
	_, err = io.WriteString(c, "ping\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", line)
	return br
}

func TestUpgradeLimit(t *testing.T) {
	checkNoLeaks(t)
	var calls atomic.Int32
	lim, err := New(Config{MaxConcurrentUpgradedConnections: 2})
	require.NoError(t, err)
	s := serve(t, lim, echoUpgrade(&calls), h1)

	a, b := dial(t, s.Addr()), dial(t, s.Addr())
	upgradeClient(t, a)
	upgradeClient(t, b)
	assert.EqualValues(t, 2, lim.Stats().UpgradedConnections)

	c := dial(t, s.Addr())
	c.Send(t, rawUpgrade)
	res, body := c.Response(t)
	assert.Equal(t, 503, res.StatusCode, "over the limit, before any 101")
	assert.Equal(t, "Service Unavailable\n", body)
	assert.True(t, c.ClosedByPeer(t))
	assert.EqualValues(t, 2, calls.Load(), "the handler never saw the third")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonUpgradeLimit])

	// A plain request is not an upgrade and is served.
	code, plain := s.Get(t, "/", nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, "plain", plain)

	// The slot comes back when the upgraded connection closes.
	a.Close()
	eventually(t, func() bool { return lim.Stats().UpgradedConnections == 1 }, "slot not released")
	upgradeClient(t, dial(t, s.Addr()))
}

func TestUpgradeLeavesConnectionPool(t *testing.T) {
	for _, p := range []proto{h1, h1tls} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{MaxConcurrentConnections: 1})
			require.NoError(t, err)
			s := serve(t, lim, echoUpgrade(nil), p)
			var a net.Conn
			if p == h1tls {
				a = tlsDial(t, s)
			} else {
				a = dial(t, s.Addr())
			}
			upgradeClient(t, a)
			st := lim.Stats()
			assert.EqualValues(t, 0, st.ActiveConnections, "the upgraded connection left the pool")
			assert.EqualValues(t, 1, st.UpgradedConnections)

			// The one connection slot is free for another client.
			code, _ := s.Get(t, "/", nil)
			assert.Equal(t, 200, code)
			s.Client.CloseIdleConnections()

			a.Close()
			eventually(t, func() bool {
				st := lim.Stats()
				return st.UpgradedConnections == 0 && st.ActiveConnections == 0
			}, "slots not released: %+v", lim.Stats())
		})
	}
}

func tlsDial(t *testing.T, s *testserver.Server) net.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", s.Addr(), &tls.Config{
		RootCAs:    testserver.RootCAs(s.Server),
		NextProtos: []string{"http/1.1"},
	})
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUpgradeWithoutLimiterListener(t *testing.T) {
	// The Handler alone: the hijacked connection is wrapped so that its
	// Close releases the slot.
	lim := MaxConcurrentUpgradedConnections(1)
	s := serve(t, nil, lim.Handler(echoUpgrade(nil)), h1)
	a := dial(t, s.Addr())
	upgradeClient(t, a)
	c := dial(t, s.Addr())
	c.Send(t, rawUpgrade)
	res, _ := c.Response(t)
	assert.Equal(t, 503, res.StatusCode)
	a.Close()
	eventually(t, func() bool { return lim.Stats().UpgradedConnections == 0 }, "slot not released")
	upgradeClient(t, dial(t, s.Addr()))
}

func TestNoUpgrades(t *testing.T) {
	var calls atomic.Int32
	lim, err := New(Config{MaxConcurrentUpgradedConnections: NoUpgrades})
	require.NoError(t, err)
	s := serve(t, lim, echoUpgrade(&calls), h1)
	c := dial(t, s.Addr())
	c.Send(t, rawUpgrade)
	res, _ := c.Response(t)
	assert.Equal(t, 503, res.StatusCode)
	assert.Zero(t, calls.Load())
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonUpgradesDisabled])
}

func TestUpgradeNotTakenReleasesSlot(t *testing.T) {
	lim := MaxConcurrentUpgradedConnections(1)
	h := lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest) // declines to upgrade
	}))
	s := serve(t, nil, h, h1)
	for range 3 {
		c := dial(t, s.Addr())
		c.Send(t, rawUpgrade)
		res, _ := c.Response(t)
		assert.Equal(t, 400, res.StatusCode)
	}
	assert.Zero(t, lim.Stats().UpgradedConnections)
	assert.Zero(t, lim.Stats().RejectedTotal())
}

func TestIsUpgrade(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{rawUpgrade, true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: UPGRADE \r\nUpgrade: foo\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: H2C\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgraded\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 1\r\n\r\nx", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	}
	for _, tt := range tests {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.raw)))
		require.NoError(t, err)
		assert.Equal(t, tt.want, isUpgrade(r), "%q", tt.raw)
	}
	xconnect := &http.Request{Method: "CONNECT", ProtoMajor: 2, Header: http.Header{":protocol": {"websocket"}}}
	assert.True(t, isUpgrade(xconnect), "HTTP/2 extended CONNECT")
	xconnect.Header = http.Header{}
	assert.False(t, isUpgrade(xconnect), "plain CONNECT")
}

func FuzzIsUpgrade(f *testing.F) {
	f.Add("keep-alive, Upgrade", "websocket")
	f.Add(",,upgrade,,", "x")
	f.Add(" UpGrAdE ", "")
	f.Fuzz(func(t *testing.T, connection, upgrade string) {
		r := &http.Request{ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{
			"Connection": {connection},
			"Upgrade":    {upgrade},
		}}
		got := isUpgrade(r)
		want := false
		for _, opt := range strings.Split(connection, ",") {
			if strings.EqualFold(strings.TrimSpace(opt), "upgrade") {
				want = true
			}
		}
		h2cOnly, other := false, false
		for _, p := range strings.Split(upgrade, ",") {
			switch p = strings.TrimSpace(p); {
			case strings.EqualFold(p, "h2c"):
				h2cOnly = true
			case p != "":
				other = true
			}
		}
		if h2cOnly && !other {
			want = false
		}
		if got != want {
			t.Fatalf("isUpgrade(Connection: %q) = %v, want %v", connection, got, want)
		}
	})
}

// TestRequestWithBodyIsNoUpgrade: a request with a body is never an upgrade,
// as in Kestrel, declared or chunked. With upgrades switched off it is
// served, not refused; with an upgrade limit it takes no upgrade slot, even
// when its handler hijacks the connection, which keeps its connection slot;
// and the upgrade slot stays free for a real upgrade.
func TestRequestWithBodyIsNoUpgrade(t *testing.T) {
	const head = "POST /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n"
	bodies := []string{"Content-Length: 5\r\n\r\nhello", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}

	t.Run("NoUpgrades", func(t *testing.T) {
		lim, err := New(Config{MaxConcurrentUpgradedConnections: NoUpgrades})
		require.NoError(t, err)
		s := serve(t, lim, echoLen(false, nil), h1)
		for _, body := range bodies {
			c := dial(t, s.Addr())
			c.Send(t, head+body)
			res, got := c.Response(t)
			assert.Equal(t, 200, res.StatusCode, "%q", body)
			assert.Equal(t, "5", got, "%q", body)
		}
		assert.Zero(t, lim.Stats().RejectedTotal())
		c := dial(t, s.Addr())
		c.Send(t, rawUpgrade)
		res, _ := c.Response(t)
		assert.Equal(t, 503, res.StatusCode, "an upgrade without a body is refused")
	})

	t.Run("limit", func(t *testing.T) {
		lim, err := New(Config{MaxConcurrentUpgradedConnections: 1})
		require.NoError(t, err)
		s := serve(t, lim, echoUpgrade(nil), h1)
		for i, body := range bodies {
			c := dial(t, s.Addr())
			c.Send(t, head+body)
			res, err := http.ReadResponse(c.R, nil)
			require.NoError(t, err)
			require.Equal(t, 101, res.StatusCode, "the handler hijacked it all the same")
			eventually(t, func() bool { return lim.Stats().ActiveConnections == int64(i+1) },
				"the hijacked connection keeps its connection slot: %+v", lim.Stats())
			assert.Zero(t, lim.Stats().UpgradedConnections, "no upgrade slot for %q", body)
		}
		upgradeClient(t, dial(t, s.Addr()))
		assert.EqualValues(t, 1, lim.Stats().UpgradedConnections)
		assert.Zero(t, lim.Stats().RejectedTotal())
	})
}
