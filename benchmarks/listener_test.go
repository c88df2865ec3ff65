package benchmarks

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
	"golang.org/x/net/netutil"
)

// connectionLimit is far above the connections open at once: the benchmarks
// measure taking and giving back a slot, not waiting for one.
const connectionLimit = 10_000

// listenerArms wraps ln in each contender: none, limits'
// MaxConcurrentConnections and x/net's netutil.LimitListener.
func listenerArms(ln net.Listener) []struct {
	name string
	ln   net.Listener
} {
	return []struct {
		name string
		ln   net.Listener
	}{
		{"bare", ln},
		{"windhover", limits.MaxConcurrentConnections(connectionLimit).Listener(ln)},
		{"netutil", netutil.LimitListener(ln, connectionLimit)},
	}
}

// BenchmarkListener measures what a connection limit adds to each
// connection: accept and close over real loopback TCP connections (the
// client dials, the listener accepts, both close; the client resets, so
// that no TIME_WAIT piles up), and the same on an in-memory listener that
// hands out a connection at once, which leaves only the wrapper's own cost.
func BenchmarkListener(b *testing.B) {
	b.Run("loopback", func(b *testing.B) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer inner.Close()
		addr := inner.Addr().(*net.TCPAddr)
		for _, a := range listenerArms(inner) {
			b.Run(a.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c, err := net.DialTCP("tcp", nil, addr)
					if err != nil {
						b.Fatal(err)
					}
					s, err := a.ln.Accept()
					if err != nil {
						b.Fatal(err)
					}
					_ = c.SetLinger(0)
					_ = c.Close()
					_ = s.Close()
				}
			})
		}
	})
	b.Run("in-memory", func(b *testing.B) {
		for _, a := range listenerArms(memListener{}) {
			b.Run(a.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c, _ := a.ln.Accept()
					_ = c.Close()
				}
			})
		}
	})
}

// BenchmarkListenerServer measures a whole HTTP/1.1 request on a new
// loopback connection each, the connection closed after it, with the
// server's listener wrapped by each contender: a request's share of the
// connection's cost, where a server that is not reused pays it every time.
func BenchmarkListenerServer(b *testing.B) {
	for _, name := range []string{"bare", "windhover", "netutil"} {
		b.Run(name, func(b *testing.B) {
			s := testserver.Start(b, app(), testserver.H1, func(ts *httptest.Server) {
				for _, a := range listenerArms(ts.Listener) {
					if a.name == name {
						ts.Listener = a.ln
					}
				}
			})
			s.Transport.DisableKeepAlives = true
			url := s.URL + "/items/42"
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
}

// memListener hands out one in-memory connection as fast as Accept is
// called.
type memListener struct{}

func (memListener) Accept() (net.Conn, error) { return memConn{}, nil }
func (memListener) Close() error              { return nil }
func (memListener) Addr() net.Addr            { return memAddr }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// memConn is a connection that does nothing.
type memConn struct{ net.Conn }

func (memConn) Close() error         { return nil }
func (memConn) RemoteAddr() net.Addr { return memAddr }
func (memConn) LocalAddr() net.Addr  { return memAddr }
