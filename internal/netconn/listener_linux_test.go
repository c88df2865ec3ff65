package netconn

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type listenerWrapper struct{ net.Listener }

func (w listenerWrapper) Unwrap() net.Listener { return w.Listener }

// TestBacklog counts the connections a listener's kernel completed and no
// Accept took, through a wrapper: two, one, none.
func TestBacklog(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := listenerWrapper{inner}
	defer ln.Close()
	n, ok := Backlog(ln)
	require.True(t, ok)
	assert.Zero(t, n)

	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	require.Eventually(t, func() bool { n, ok := Backlog(ln); return ok && n == 2 },
		2*time.Second, time.Millisecond, "the two connections wait in the accept queue")
	for want := 1; want >= 0; want-- {
		c, err := ln.Accept()
		require.NoError(t, err)
		defer c.Close()
		n, ok := Backlog(ln)
		assert.True(t, ok)
		assert.Equal(t, want, n)
	}

	require.NoError(t, ln.Close())
	_, ok = Backlog(ln)
	assert.False(t, ok, "a closed listener has no queue to count")
}

// TestBacklogUnix: a listener not over TCP is not counted.
func TestBacklogUnix(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	require.NoError(t, err)
	defer ln.Close()
	_, ok := Backlog(ln)
	assert.False(t, ok)
}
