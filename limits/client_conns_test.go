package limits

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// dialFrom opens a plaintext connection to addr from the loopback address
// from (127.0.0.2, 127.0.0.3, ...: every 127/8 address is local on Linux),
// closed when the test ends.
func dialFrom(t testing.TB, from, addr string) *testserver.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", from, err)
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { c.Close() })
	return &testserver.Conn{Conn: c, R: bufio.NewReader(c)}
}

// served sends a request on c and reports whether it was answered 200; a
// connection the server refused (closed, or answered 503) is not served.
func served(t testing.TB, c *testserver.Conn) (bool, int) {
	t.Helper()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return false, 0
	}
	res, err := http.ReadResponse(c.R, nil)
	if err != nil {
		return false, 0
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK, res.StatusCode
}

// Three clients, from three loopback addresses, against a limit of two
// connections each: each gets two, its third is refused as the overflow
// mode says, and a closed connection gives its client's slot back.
func TestMaxConnectionsPerClient(t *testing.T) {
	for _, overflow := range []Overflow{OverflowClose, OverflowRespond503} {
		t.Run(overflow.String(), func(t *testing.T) {
			checkNoLeaks(t)
			var refusals []error
			rejected := make(chan error, 10)
			lim, err := New(Config{MaxConnectionsPerClient: 2, ConnectionOverflow: overflow,
				OnReject: func(_ *http.Request, err error) { rejected <- err }})
			require.NoError(t, err)
			s := serve(t, lim, hello, h1)
			clients := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
			held := map[string][]*testserver.Conn{}
			for _, from := range clients {
				for range 2 {
					c := dialFrom(t, from, s.Addr())
					ok, code := served(t, c)
					require.True(t, ok, "client %s: its first two connections are served (got %d)", from, code)
					held[from] = append(held[from], c)
				}
			}
			assert.EqualValues(t, 3, lim.Stats().TrackedClients)
			for _, from := range clients {
				c := dialFrom(t, from, s.Addr())
				ok, code := served(t, c)
				assert.False(t, ok, "client %s: a third connection is refused", from)
				if overflow == OverflowRespond503 {
					assert.Equal(t, http.StatusServiceUnavailable, code)
				} else {
					assert.True(t, c.ClosedByPeer(t))
				}
				err := <-rejected
				refusals = append(refusals, err)
				var le *Error
				require.ErrorAs(t, err, &le)
				assert.ErrorIs(t, err, ErrClientConnectionLimit)
				assert.EqualValues(t, 2, le.Limit)
				assert.Equal(t, from, le.Addr.(*net.TCPAddr).IP.String())
			}
			st := lim.Stats()
			assert.EqualValues(t, 3, st.Rejected[ReasonClientConnectionLimit])
			assert.EqualValues(t, 6, st.ActiveConnections)
			assert.Len(t, refusals, 3)

			// A closed connection frees its client's slot, and only its.
			held["127.0.0.3"][0].Close()
			eventually(t, func() bool { return lim.Stats().ActiveConnections == 5 }, "slot not released")
			ok, _ := served(t, dialFrom(t, "127.0.0.3", s.Addr()))
			assert.True(t, ok, "127.0.0.3 has a slot again")
			ok, _ = served(t, dialFrom(t, "127.0.0.2", s.Addr()))
			assert.False(t, ok, "127.0.0.2 still has none")

			// Every connection closed: no client is tracked.
			for _, cs := range held {
				for _, c := range cs {
					c.Close()
				}
			}
			s.Close()
			eventually(t, func() bool { return lim.Stats().TrackedClients == 0 }, "clients still tracked: %d", lim.Stats().TrackedClients)
		})
	}
}

// A client that floods the server gets its own share and no more: another
// client is served while the flood holds every connection it can.
func TestPerClientFloodDoesNotStarveOthers(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConcurrentConnections: 8, MaxConnectionsPerClient: 4})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	var flood []*testserver.Conn
	for range 50 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		c, err := d.Dial("tcp", s.Addr())
		if err != nil {
			continue // the backlog may refuse some
		}
		t.Cleanup(func() { c.Close() })
		flood = append(flood, &testserver.Conn{Conn: c, R: bufio.NewReader(c)})
	}
	eventually(t, func() bool {
		st := lim.Stats()
		return st.Rejected[ReasonClientConnectionLimit] == uint64(len(flood)-4)
	}, "flood: %d refused of %d", lim.Stats().Rejected[ReasonClientConnectionLimit], len(flood))
	assert.EqualValues(t, 4, lim.Stats().ActiveConnections, "the flooder holds its four")
	for i := range 4 {
		ok, _ := served(t, dialFrom(t, "127.0.0.3", s.Addr()))
		assert.True(t, ok, "the other client's connection %d is served", i)
	}
	assert.Zero(t, lim.Stats().Rejected[ReasonConnectionLimit])
}

// A client over its own limit never enters the connection queue, so a
// flood cannot fill it and keep other clients waiting.
func TestPerClientLimitBypassesQueue(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConcurrentConnections: 2, MaxConnectionsPerClient: 1,
		ConnectionQueueLength: 1, ConnectionQueueTimeout: 5 * time.Second})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	a := dialFrom(t, "127.0.0.2", s.Addr())
	ok, _ := served(t, a)
	require.True(t, ok)
	over := dialFrom(t, "127.0.0.2", s.Addr())
	assert.True(t, over.ClosedByPeer(t), "the same client's second connection is refused, not queued")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonClientConnectionLimit])
	assert.Zero(t, lim.Stats().QueuedConnections)
	b := dialFrom(t, "127.0.0.3", s.Addr())
	ok, _ = served(t, b)
	assert.True(t, ok)
	// The pool is full now: a third client queues, and holds its client
	// slot while it waits.
	c := dialFrom(t, "127.0.0.4", s.Addr())
	eventually(t, func() bool { return lim.Stats().QueuedConnections == 1 }, "not queued")
	assert.EqualValues(t, 3, lim.Stats().TrackedClients)
	a.Close()
	ok, _ = served(t, c)
	assert.True(t, ok, "served once a slot frees")
}

// On a server given to Apply without the Listener, ConnState enforces the
// per-client limit too.
func TestPerClientLimitWithoutListener(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConnectionsPerClient: 1})
	require.NoError(t, err)
	s := startServer(t, lim.Handler(hello), h1, func(ts *httptest.Server) { require.NoError(t, lim.Apply(ts.Config)) })
	a := dialFrom(t, "127.0.0.2", s.Addr())
	ok, _ := served(t, a)
	require.True(t, ok)
	assert.True(t, dialFrom(t, "127.0.0.2", s.Addr()).ClosedByPeer(t))
	ok, _ = served(t, dialFrom(t, "127.0.0.3", s.Addr()))
	assert.True(t, ok)
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonClientConnectionLimit])
	a.Close()
	eventually(t, func() bool { return lim.Stats().TrackedClients == 1 }, "127.0.0.2 still tracked")
}

// fakeConn is a connection with a remote address and nothing else.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c fakeConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }

func tcpConn(addr string) net.Conn {
	return fakeConn{remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
}

func TestClientKeyGrouping(t *testing.T) {
	tab := newClientConns(1, DefaultIPv4PrefixLen, DefaultIPv6PrefixLen)
	tests := []struct {
		a, b string
		same bool
	}{
		{"[2001:db8::1]:1", "[2001:db8::ffff:1]:2", true},                 // one /64
		{"[2001:db8::1]:1", "[2001:db8:0:1::1]:1", false},                 // the next /64
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:2", true},                     // mapped is IPv4
		{"192.0.2.1:1", "192.0.2.2:1", false},                             // /32
		{"[fe80::1%eth0]:1", "[fe80::1%eth1]:1", true},                    // zones dropped
		{"[2001:db8:1:2:3:4:5:6]:1", "[2001:db8:1:2:ffff:4:5:6]:1", true}, // host bits
	}
	for _, tt := range tests {
		ka, kb := tab.key(tcpConn(tt.a)), tab.key(tcpConn(tt.b))
		assert.Equal(t, tt.same, ka == kb, "%s and %s", tt.a, tt.b)
	}
	narrow := newClientConns(1, 24, 48)
	assert.Equal(t, narrow.key(tcpConn("192.0.2.1:1")), narrow.key(tcpConn("192.0.2.200:1")))
	assert.Equal(t, narrow.key(tcpConn("[2001:db8:1:2::1]:1")), narrow.key(tcpConn("[2001:db8:1:3::1]:1")))
	assert.NotEqual(t, narrow.key(tcpConn("[2001:db8:1:2::1]:1")), narrow.key(tcpConn("[2001:db8:2:2::1]:1")))
}

func TestClientPrefixLenValidated(t *testing.T) {
	for _, cfg := range []Config{
		{MaxConnectionsPerClient: -1},
		{ClientIPv4PrefixLen: 33},
		{ClientIPv6PrefixLen: -1},
		{ClientIPv6PrefixLen: 129},
		{MaxConnectionAge: -time.Second},
		{MaxRequestsPerConnection: -1},
	} {
		_, err := New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	assert.Panics(t, func() { MaxConnectionsPerClient(0) })
}

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A flood of a million distinct addresses, each holding a connection at
// once, grows the table; when they are gone, so is its memory. Entries
// live only while their client has a connection open.
func TestClientTableMemoryReturns(t *testing.T) {
	if testing.Short() {
		t.Skip("a million entries")
	}
	n := 1_000_000
	if raceEnabled {
		n = 100_000 // the same property, in a tenth of the race detector's time
	}
	tab := newClientConns(2, DefaultIPv4PrefixLen, DefaultIPv6PrefixLen)
	keys := make([]clientKey, n)
	for i := range keys {
		var b [16]byte
		b[0], b[1] = 0x20, 0x01
		b[4], b[5], b[6], b[7] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i) // distinct /64s
		keys[i] = tab.ipKey(b[:])
	}
	before := heapInUse()
	for _, k := range keys {
		require.True(t, tab.acquire(k))
	}
	assert.EqualValues(t, n, tab.clients())
	during := heapInUse()
	for _, k := range keys {
		tab.release(k)
	}
	assert.Zero(t, tab.clients())
	after := heapInUse()
	t.Logf("heap: %d MB before, %d MB with %d clients, %d MB after", before>>20, during>>20, n, after>>20)
	assert.Greater(t, during, before+uint64(n)*20, "the table grew with the flood")
	assert.Less(t, after, before+(during-before)/10, "the memory of the table came back")
	for i := range tab.shards {
		assert.Empty(t, tab.shards[i].m)
	}
	runtime.KeepAlive(keys)
}

// The accept path with 10,000 clients tracked: find the client of a
// connection and count it ("accept"; the slots are given back in batches
// outside the timer), and the same with the close that gives it back
// ("accept+close"). cpu-ns/op is the process's CPU time per operation,
// which a busy machine's waits for a core do not inflate.
func BenchmarkPerClientAccept(b *testing.B) {
	b.Run("accept", func(b *testing.B) {
		tab, conns := trackedClients(10_000)
		slots := make([]clientSlot, 0, len(conns))
		b.ReportAllocs()
		b.ResetTimer()
		cpu, paused := processCPU(), time.Duration(0)
		for i := range b.N {
			if len(slots) == cap(slots) {
				b.StopTimer()
				p := processCPU()
				for j := range slots {
					slots[j].release()
				}
				slots = slots[:0]
				paused += processCPU() - p
				b.StartTimer()
			}
			slot, ok := tab.hold(tab.key(conns[i%len(conns)]))
			if !ok {
				b.Fatal("refused")
			}
			slots = append(slots, slot)
		}
		reportCPU(b, processCPU()-cpu-paused)
	})
	b.Run("accept+close", func(b *testing.B) {
		tab, conns := trackedClients(10_000)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := range b.N {
			slot, ok := tab.hold(tab.key(conns[i%len(conns)]))
			if !ok {
				b.Fatal("refused")
			}
			slot.release()
		}
		reportCPU(b, processCPU()-cpu)
	})
}

func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

// trackedClients returns a table holding n IPv4 and IPv6 clients with a
// connection each, and connections from n other clients.
func trackedClients(n int) (*clientConns, []net.Conn) {
	tab := newClientConns(4, DefaultIPv4PrefixLen, DefaultIPv6PrefixLen)
	conns := make([]net.Conn, n)
	for i := range n {
		held := tcpConn(fmt.Sprintf("10.%d.%d.%d:1000", i>>16&0xff, i>>8&0xff, i&0xff))
		if i%2 == 1 {
			held = tcpConn(fmt.Sprintf("[2001:db8:%x:%x::1]:1000", i>>16, i&0xffff))
		}
		tab.acquire(tab.key(held))
		conns[i] = tcpConn(fmt.Sprintf("172.16.%d.%d:2000", i>>8&0xff, i&0xff))
	}
	return tab, conns
}

func TestPerClientAcceptAllocs(t *testing.T) {
	tab, conns := trackedClients(10_000)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		slot, _ := tab.hold(tab.key(conns[i%len(conns)]))
		i++
		slot.release()
	})
	assert.LessOrEqual(t, allocs, 1.0)
}
