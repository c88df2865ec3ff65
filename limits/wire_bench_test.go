package limits

import (
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// keepAliveConn is the server's side of a keep-alive HTTP/1.1 connection
// whose client sends its request each time [keepAliveConn.step] is called,
// then waits for the response: as a client that does not pipeline. A read
// deadline in the past ends a waiting read (net/http's abortPendingRead);
// later deadlines never come, and writes cost nothing.
type keepAliveConn struct {
	req    string
	mu     sync.Mutex
	cond   sync.Cond
	avail  string
	idle   bool // the server waits for the next request
	past   bool
	closed bool
}

func newKeepAliveConn(req string) *keepAliveConn {
	c := &keepAliveConn{req: req}
	c.cond.L = &c.mu
	return c
}

func (c *keepAliveConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.avail == "" && !c.past && !c.closed {
		// A full read with nothing to read is the server waiting for the
		// next request (the one-byte read is its background read).
		if len(b) > 1 && !c.idle {
			c.idle = true
			c.cond.Broadcast()
		}
		c.cond.Wait()
	}
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case c.avail == "":
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, c.avail)
	c.avail = c.avail[n:]
	return n, nil
}

// step sends the request and returns once the server, its response
// written, waits for the next one: every allocation the request causes on
// the server happens within the call.
func (c *keepAliveConn) step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.idle && !c.closed {
		c.cond.Wait()
	}
	c.idle, c.avail = false, c.req
	c.cond.Broadcast()
	for !c.idle && !c.closed {
		c.cond.Wait()
	}
}

func (c *keepAliveConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.past = !t.IsZero() && t.Before(time.Now())
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

func (c *keepAliveConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

func (c *keepAliveConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *keepAliveConn) LocalAddr() net.Addr              { return benchAddr }
func (c *keepAliveConn) RemoteAddr() net.Addr             { return memAddr }
func (c *keepAliveConn) SetDeadline(time.Time) error      { return nil }
func (c *keepAliveConn) SetWriteDeadline(time.Time) error { return nil }

// keepAliveRequests are a browser's GET and a small JSON POST.
var keepAliveRequests = map[string]string{
	"GET": "GET /index.html?q=1 HTTP/1.1\r\n" +
		"Host: localhost:8080\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Connection: keep-alive\r\n" +
		"\r\n",
	"POST": "POST /api/items HTTP/1.1\r\n" +
		"Host: localhost:8080\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: 27\r\n" +
		"\r\n" +
		`{"name":"item","count":42}` + "\n",
}

// keepAliveServer serves one keep-alive connection for req through
// Limiter.Listener, Apply and the Handler at Kestrel's defaults: with the
// Limiter's Wire ("wire"), with the Wire taken out so that the Handler
// measures the head after net/http's parse ("nowire"), or without limits
// ("bare"). It returns the client's side and a function that stops it.
func keepAliveServer(tb testing.TB, arm, req string) (*keepAliveConn, func()) {
	c := newKeepAliveConn(req)
	ln := testserver.NewChanListener(c)
	srv := &http.Server{Handler: drain, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	var served net.Listener = ln
	if arm != "bare" {
		lim, err := New(Config{})
		require.NoError(tb, err)
		if arm == "nowire" {
			lim.wire = nil
			lim.warned.Store(true) // measured after the parse on purpose
		}
		require.NoError(tb, lim.Apply(srv))
		srv.Handler = lim.Handler(drain)
		served = lim.Listener(ln)
	}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(served)
		close(done)
	}()
	return c, func() {
		_ = srv.Close()
		_ = c.Close()
		<-done
	}
}

// BenchmarkKeepAlive measures one keep-alive HTTP/1.1 request through
// net/http, bare and through the Limiter's Listener and Handler with and
// without its Wire, over keepAliveConn. Its allocations are exact; its
// times are not what the Wire costs on a socket: keepAliveConn wakes every
// goroutine waiting on it at each deadline and read, and the Wire's
// different moments for them cost goroutine switches a socket does not
// (run each arm in a process of its own: "wire" took about 10.5 us against
// "nowire"'s 6 us, where over loopback TCP, with the client in the same
// process, the two measured 31.7 and 32.2 us, p=0.74, n=10). Use the
// h1wire benchmarks for the Wire's own cost.
func BenchmarkKeepAlive(b *testing.B) {
	for _, method := range []string{"GET", "POST"} {
		for _, arm := range []string{"bare", "nowire", "wire"} {
			b.Run(method+"/"+arm, func(b *testing.B) {
				c, stop := keepAliveServer(b, arm, keepAliveRequests[method])
				defer stop()
				c.step()
				b.ReportAllocs()
				for b.Loop() {
					c.step()
				}
			})
		}
	}
}

// TestWireAllocations guards the Wire's budget: a keep-alive request
// through the Listener allocates no more with the Wire than without.
func TestWireAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	for _, method := range []string{"GET", "POST"} {
		allocs := map[string]float64{}
		for _, arm := range []string{"nowire", "wire"} {
			c, stop := keepAliveServer(t, arm, keepAliveRequests[method])
			for range 50 {
				c.step()
			}
			allocs[arm] = testing.AllocsPerRun(500, c.step)
			stop()
		}
		t.Logf("%s: %v allocations per request with the Wire, %v without", method, allocs["wire"], allocs["nowire"])
		if allocs["wire"] != allocs["nowire"] {
			t.Errorf("%s: %v allocations per request with the Wire, %v without", method, allocs["wire"], allocs["nowire"])
		}
	}
}
