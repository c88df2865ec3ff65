package limits

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection AcquireConnection admits (a QUIC connection, say) takes a
// slot of the pools the Listener's TCP connections take: one limit bounds
// both, each side is refused once the other holds the slots, a release
// wakes a queued TCP connection, and the per-client limit counts both.
func TestAcquireConnectionSharesTheListenersPools(t *testing.T) {
	checkNoLeaks(t)
	rejected := make(chan error, 10)
	lim, err := New(Config{MaxConcurrentConnections: 2, MaxConnectionsPerClient: 2,
		OnReject: func(_ *http.Request, err error) { rejected <- err }})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	udp := func(ip string) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: 443} }

	// One TCP connection and one QUIC connection fill the limit of 2.
	tcp := dialFrom(t, "127.0.0.2", s.Addr())
	ok, _ := served(t, tcp)
	require.True(t, ok)
	release, err := lim.AcquireConnection(udp("127.0.0.3"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, lim.Stats().ActiveConnections)

	// A third, of either kind, is refused, counted and reported.
	ok, _ = served(t, dialFrom(t, "127.0.0.4", s.Addr()))
	assert.False(t, ok, "a TCP connection over a limit that a QUIC connection fills")
	assert.ErrorIs(t, <-rejected, ErrConnectionLimit)
	_, err = lim.AcquireConnection(udp("127.0.0.5"))
	assert.ErrorIs(t, err, ErrConnectionLimit)
	var le *Error
	require.ErrorAs(t, err, &le)
	assert.EqualValues(t, 2, le.Limit)
	assert.Equal(t, udp("127.0.0.5"), le.Addr)
	assert.ErrorIs(t, <-rejected, ErrConnectionLimit, "reported to OnReject")
	assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonConnectionLimit])

	// The QUIC connection's release frees its slot, once however often
	// called, and a TCP connection takes it.
	release()
	release()
	assert.EqualValues(t, 1, lim.Stats().ActiveConnections)
	ok, _ = served(t, dialFrom(t, "127.0.0.4", s.Addr()))
	assert.True(t, ok, "the released slot serves a TCP connection")
}

// MaxConnectionsPerClient counts a client's TCP and QUIC connections
// together.
func TestAcquireConnectionPerClient(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConnectionsPerClient: 2})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	tcp := dialFrom(t, "127.0.0.2", s.Addr())
	ok, _ := served(t, tcp)
	require.True(t, ok)
	from := &net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: 50000}
	release, err := lim.AcquireConnection(from)
	require.NoError(t, err)
	_, err = lim.AcquireConnection(from)
	assert.ErrorIs(t, err, ErrClientConnectionLimit, "a third connection of the client, TCP or not")
	ok, _ = served(t, dialFrom(t, "127.0.0.2", s.Addr()))
	assert.False(t, ok)
	other, err := lim.AcquireConnection(&net.UDPAddr{IP: net.ParseIP("127.0.0.3"), Port: 50000})
	require.NoError(t, err, "another client is not held back")
	other()
	release()
	ok, _ = served(t, dialFrom(t, "127.0.0.2", s.Addr()))
	assert.True(t, ok, "the client's released slot serves it again")
	assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonClientConnectionLimit])
}

// A TCP connection waiting in a Listener's queue gets the slot a QUIC
// connection releases.
func TestAcquireConnectionReleaseWakesTheQueue(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionQueueLength: 1, ConnectionQueueTimeout: 10 * time.Second})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	release, err := lim.AcquireConnection(&net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 443})
	require.NoError(t, err)
	c := dialFrom(t, "127.0.0.1", s.Addr())
	eventually(t, func() bool { return lim.Stats().QueuedConnections == 1 }, "the TCP connection queued")
	release()
	ok, _ := served(t, c)
	assert.True(t, ok, "the queued connection is served once the QUIC connection's slot is released")
}
