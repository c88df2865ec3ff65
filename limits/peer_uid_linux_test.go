//go:build linux

package limits

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// Over a Unix socket the client is the peer's uid, read from the kernel:
// two connections of this process's user share one client's limit.
func TestPerClientUnixPeersByUID(t *testing.T) {
	checkNoLeaks(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	lim := MaxConnectionsPerClient(1)
	srv := &http.Server{Handler: lim.Handler(hello)}
	require.NoError(t, lim.Apply(srv))
	go func() { _ = srv.Serve(lim.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })

	dialUnix := func() *testserver.Conn {
		c, err := net.Dial("unix", path)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		t.Cleanup(func() { c.Close() })
		return &testserver.Conn{Conn: c, R: bufio.NewReader(c)}
	}
	first := dialUnix()
	ok, _ := served(t, first)
	require.True(t, ok)
	assert.True(t, dialUnix().ClosedByPeer(t), "the same user's second connection is refused")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonClientConnectionLimit])
	first.Close()
	eventually(t, func() bool { return lim.Stats().TrackedClients == 0 }, "still tracked")
	ok, _ = served(t, dialUnix())
	assert.True(t, ok)
}

func TestPeerUID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	tab := newClientConns(1, 32, 64)
	assert.Equal(t, clientKey{uid: int64(os.Getuid())}, tab.key(s))
	assert.Equal(t, int64(-1), peerUID(fakeConn{Conn: s}), "a wrapper that hides the socket: Unix peers as one")
}
