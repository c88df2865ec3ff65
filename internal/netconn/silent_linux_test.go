package netconn

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// accepted dials ln and returns both ends.
func accepted(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	return client, server
}

func TestSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	// Nothing sent: silent, under any wrapper.
	_, quiet := accepted(t, ln)
	assert.True(t, Silent(quiet))
	assert.True(t, Silent(netConnWrapper{quiet}))
	assert.True(t, Silent(tls.Server(quiet, &tls.Config{})), "a *tls.Conn before its handshake")

	// One byte sent, not read yet: the kernel has it, so not silent.
	client, sent := accepted(t, ln)
	_, err = client.Write([]byte("G"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !Silent(sent) }, 2*time.Second, time.Millisecond)

	// The byte read by a layer above: still not silent.
	buf := make([]byte, 1)
	_, err = sent.Read(buf)
	require.NoError(t, err)
	assert.False(t, Silent(unwrapWrapper{sent}))

	// Closed here: cannot tell.
	_, closed := accepted(t, ln)
	closed.Close()
	assert.False(t, Silent(closed))

	// Not TCP: cannot tell.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	assert.False(t, Silent(a))
	uln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	require.NoError(t, err)
	defer uln.Close()
	_, unix := accepted(t, uln)
	assert.False(t, Silent(unix))
}
