package limits

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/testserver"
)

// drain reads the body (through io.Discard's pooled buffer) and answers a
// constant.
var drain = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
})

// requestFor returns a parsed request as net/http would hand it over, with a
// body of n bytes (none if n is 0), and a function to rewind it.
func requestFor(tb testing.TB, n int) (*http.Request, func()) {
	method, extra := "GET", ""
	if n > 0 {
		method, extra = "POST", "Content-Length: "+strconv.Itoa(n)+"\r\n"
	}
	raw := method + " /items/42?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Accept-Language: en\r\nCookie: session=abcdef0123456789\r\n" + extra + "\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	require.NoError(tb, err)
	if n == 0 {
		r.Body = http.NoBody
		return r, func() {}
	}
	body := testserver.NewRewindBody(bytes.Repeat([]byte("b"), n))
	r.Body = body
	return r, body.Rewind
}

func TestHandlerAllocations(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	w := testserver.NewNopWriter()
	for _, tt := range []struct {
		name  string
		body  int
		extra float64
	}{
		{"no body", 0, 0},
		{"1 KiB body", 1024, 1},
	} {
		r, rewind := requestFor(t, tt.body)
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(200, func() {
				rewind()
				h.ServeHTTP(w, r)
			})
		}
		bare, limited := allocs(drain), allocs(lim.Handler(drain))
		assert.Equal(t, tt.extra, limited-bare, "%s: %v allocations bare, %v behind limits", tt.name, bare, limited)
		// A head the Listener's Wire measured is not measured again.
		plain := r
		r = onWire(lim, r)
		assert.Equal(t, limited, allocs(lim.Handler(drain)), "%s: on the wire", tt.name)
		r = plain
		// A route's limit behind the global one changes the same state.
		nested := allocs(lim.Handler(MaxRequestBodySize(1 << 20).Handler(drain)))
		assert.Equal(t, limited, nested, "%s: %v allocations behind limits, %v behind a nested limit", tt.name, limited, nested)
	}
}

// onWire returns r as it comes from a connection of lim's Listener: its
// context holds a wire Conn that measured its head with lim's Wire.
func onWire(lim *Limiter, r *http.Request) *http.Request {
	return r.WithContext(h1wire.ConnContext(r.Context(), lim.wire.Conn(memConn{})))
}

// BenchmarkHandler measures the Handler alone on a parsed request: bare,
// behind the limits (the head measured after the parse), behind them with
// the head measured on the wire by the Listener (the Handler's share of the
// Wire's cost), and behind a nested body limit.
func BenchmarkHandler(b *testing.B) {
	lim, err := New(Config{})
	require.NoError(b, err)
	lim.warned.Store(true) // measured after the parse on purpose
	for _, size := range []int{0, 1024} {
		for _, tc := range []struct {
			name string
			h    http.Handler
			wire bool
		}{
			{"bare", drain, false},
			{"limits", lim.Handler(drain), false},
			{"limits-wire", lim.Handler(drain), true},
			{"limits-nested", lim.Handler(MaxRequestBodySize(1 << 20).Handler(drain)), false},
			{"MaxBytesHandler", http.MaxBytesHandler(drain, DefaultMaxRequestBodySize), false},
		} {
			b.Run(tc.name+"/body="+strconv.Itoa(size), func(b *testing.B) {
				w := testserver.NewNopWriter()
				r, rewind := requestFor(b, size)
				if tc.wire {
					r = onWire(lim, r)
				}
				b.ReportAllocs()
				for b.Loop() {
					rewind()
					tc.h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkServer measures whole requests over loopback, keep-alive, bare and
// behind every limit, with the Limiter's listener.
func BenchmarkServer(b *testing.B) {
	for _, p := range []proto{h1, h2c} {
		for _, withLimits := range []bool{false, true} {
			name := string(p) + "/bare"
			var lim *Limiter
			if withLimits {
				name = string(p) + "/limits"
				lim, _ = New(Config{MaxConcurrentConnections: 1000})
			}
			b.Run(name, func(b *testing.B) {
				s := serve(b, lim, drain, p)
				req, _ := http.NewRequest("POST", s.URL+"/items/42", nil)
				body := strings.Repeat("b", 1024)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r := req.Clone(req.Context())
						r.Body = io.NopCloser(strings.NewReader(body))
						r.ContentLength = int64(len(body))
						res, err := s.Client.Do(r)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				})
			})
		}
	}
}

// memListener hands out in-memory connections as fast as Accept is called.
type memListener struct{}

func (memListener) Accept() (net.Conn, error) { return memConn{}, nil }
func (memListener) Close() error              { return nil }
func (memListener) Addr() net.Addr            { return &net.TCPAddr{} }

type memConn struct{ net.Conn }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func (memConn) Close() error         { return nil }
func (memConn) RemoteAddr() net.Addr { return memAddr }
func (memConn) LocalAddr() net.Addr  { return memAddr }

// BenchmarkListener measures what the connection limit adds to accepting and
// closing one connection.
func BenchmarkListener(b *testing.B) {
	for _, tc := range []struct {
		name string
		ln   net.Listener
	}{
		{"bare", memListener{}},
		{"limits", MaxConcurrentConnections(1 << 20).Listener(memListener{})},
		{"limits-unlimited", MaxConcurrentConnections(0).Listener(memListener{})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, _ := tc.ln.Accept()
				_ = c.Close()
			}
		})
	}
}

func TestListenerAllocations(t *testing.T) {
	ln := MaxConcurrentConnections(10).Listener(memListener{})
	allocs := testing.AllocsPerRun(100, func() {
		c, _ := ln.Accept()
		_ = c.Close()
	})
	assert.Equal(t, 1.0, allocs, "one connection wrapper per connection")
}

func BenchmarkConnectionQueue(b *testing.B) {
	lim, err := New(Config{MaxConcurrentConnections: 1 << 20, ConnectionQueueLength: 64, ConnectionQueueTimeout: time.Second})
	require.NoError(b, err)
	inner := testserver.NewChanListener()
	ln := lim.Listener(inner)
	defer ln.Close()
	b.ReportAllocs()
	for b.Loop() {
		go func() { inner.Conns <- memConn{} }()
		c, _ := ln.Accept()
		_ = c.Close()
	}
}
