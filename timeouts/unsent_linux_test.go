//go:build linux

package timeouts

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/netconn"
	"github.com/windhover/windhover/internal/testserver"
)

type connKey struct{}

// TestApplyBoundsUnsent checks that Apply sets TCP_NOTSENT_LOWAT on each
// connection, under TLS too, keeps the ConnContext already there, and never
// raises a bound the socket already has.
func TestApplyBoundsUnsent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      testserver.Proto
		set    int
		preset int // set by the listener before Apply's ConnContext runs
		want   int
	}{
		{"h1", h1, 0, 0, DefaultMaxUnsentResponseBytes},
		{"h2", h2, 0, 0, DefaultMaxUnsentResponseBytes},
		{"h1/100000", h1, 100_000, 0, 100_000},
		{"h1/off", h1, -1, 0, -1}, // the system's: unbounded
		{"h1/lower", h1, 0, 16 << 10, 16 << 10},
		{"h1/higher", h1, 0, 1 << 20, DefaultMaxUnsentResponseBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := New(Config{MaxUnsentResponseBytes: tc.set})
			require.NoError(t, err)
			got := make(chan int, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c := r.Context().Value(connKey{}).(net.Conn)
				tc, _ := netconn.Find[*net.TCPConn](c)
				got <- sockopt(t, tc, tcpNotSentLowat)
			})
			s := testserver.Start(t, h, tc.p, func(ts *httptest.Server) {
				ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
					return context.WithValue(ctx, connKey{}, c)
				}
				if tc.preset > 0 {
					ts.Listener = presetUnsent{ts.Listener, tc.preset}
				}
				require.NoError(t, pol.Apply(ts.Config))
			})
			code, _ := s.Get(t, "/", nil)
			assert.Equal(t, 200, code)
			assert.Equal(t, tc.want, <-got, "the user's ConnContext ran, and the bound is right")
		})
	}

	_, err := New(Config{MaxUnsentResponseBytes: 1<<30 + 1})
	assert.ErrorContains(t, err, "Config.MaxUnsentResponseBytes")
}

// presetUnsent sets a bound on each connection it accepts.
type presetUnsent struct {
	net.Listener
	n int
}

func (l presetUnsent) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		raw, _ := tc.SyscallConn()
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, l.n)
		})
	}
	return c, err
}

func sockopt(t *testing.T, c *net.TCPConn, opt int) int {
	t.Helper()
	require.NotNil(t, c)
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var v int
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, opt)
	}))
	require.NoError(t, serr)
	return v
}

// TestStalledReaderWithSystemBuffers stops reading a large response with
// the system's own socket buffers, which Linux grows to 4 MiB. With the
// bound on unsent bytes the response rate cuts the client within the time
// the rate allows for a few hundred kilobytes; without it, the kernel would
// take megabytes at once, all counted as sent, and the cut would come
// after 40 s or more (the integration suite's slow-read attack shows it).
func TestStalledReaderWithSystemBuffers(t *testing.T) {
	rate := Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond}
	pol, err := New(Config{MinResponseDataRate: rate})
	require.NoError(t, err)
	h := newEndless(false)
	h.size = 200 << 20
	ts := httptest.NewUnstartedServer(pol.Handler(h))
	require.NoError(t, pol.Apply(ts.Config))
	ts.Start()
	defer ts.Close()

	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(32<<10))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	// Now read nothing more.
	written, elapsed, writeErr := h.result(t)
	assert.Error(t, writeErr)
	assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)
	assert.Less(t, written, int64(2<<20), "the kernel took no more than the bound and the client's window")
	assert.Less(t, elapsed, 10*time.Second)
	t.Logf("cut after %d bytes written in %v", written, elapsed.Round(time.Millisecond))
}
