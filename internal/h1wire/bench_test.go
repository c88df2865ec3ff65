package h1wire

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// typical is a pipelined pair of typical requests: a browser's GET and a
// small JSON POST.
const typical = "GET /index.html?q=1 HTTP/1.1\r\n" +
	"Host: localhost:8080\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n" +
	"POST /api/items HTTP/1.1\r\n" +
	"Host: localhost:8080\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 27\r\n" +
	"\r\n" +
	`{"name":"item","count":42}` + "\n"

// loopConn is a connection whose client sends typical without end and
// reads nothing; its deadlines cost nothing.
type loopConn struct {
	net.Conn // nil: the methods below are all net/http calls
	off      int
	closed   chan struct{}
	once     sync.Once
}

func newLoopConn() *loopConn { return &loopConn{closed: make(chan struct{})} }

func (c *loopConn) Read(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	n := 0
	for n < len(b) {
		k := copy(b[n:], typical[c.off:])
		n += k
		c.off = (c.off + k) % len(typical)
	}
	return n, nil
}

func (c *loopConn) Write(b []byte) (int, error) { return len(b), nil }
func (c *loopConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234} }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }
func (c *loopConn) CloseWrite() error                { return nil }

// stepConn is a connection whose client sends the requests of typical one
// at a time, each once the response to the previous one has come, as
// clients that do not pipeline do. A read deadline in the past ends a
// waiting read, as net/http's abortPendingRead needs; later deadlines never
// come.
type stepConn struct {
	loopConn
	mu     sync.Mutex
	cond   sync.Cond
	next   int    // offset in typical of the next request
	avail  string // what the client has sent and the server not read
	past   bool   // the read deadline is in the past
	closed bool
}

func newStepConn() *stepConn {
	c := &stepConn{avail: typical[:strings.Index(typical, "POST")]}
	c.next = len(c.avail)
	c.cond.L = &c.mu
	return c
}

func (c *stepConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.avail == "" && !c.past && !c.closed {
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

func (c *stepConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	end := strings.Index(typical[c.next:], "POST")
	if end <= 0 {
		end = len(typical) - c.next
	}
	c.avail = typical[c.next : c.next+end]
	c.next = (c.next + end) % len(typical)
	c.mu.Unlock()
	c.cond.Broadcast()
	return len(b), nil
}

func (c *stepConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.past = !t.IsZero() && t.Before(time.Now())
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

func (c *stepConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

// BenchmarkServer measures a request through net/http over one connection,
// bare and through a Conn at the default limits. "pipelined": the client
// sends typical without end; "sequential": one request after each response.
// On one processor (-cpu 1) the difference is the Conn's cost per request
// (sequential: about 290 ns). On more, it is mostly goroutine switches that
// stepConn's condition variable causes and a socket does not (sequential:
// about 1.7 us, where over loopback TCP the Conn adds no significant time,
// see BenchmarkConnSequentialTCP).
func BenchmarkServer(b *testing.B) {
	for _, client := range []string{"pipelined", "sequential"} {
		for _, arm := range []string{"bare", "wire"} {
			b.Run(client+"/"+arm, func(b *testing.B) {
				var served atomic.Int64
				done := make(chan struct{})
				target := int64(b.N)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					if served.Add(1) == target {
						close(done)
					}
				})
				srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
				var c net.Conn = newLoopConn()
				if client == "sequential" {
					c = newStepConn()
				}
				inner := c
				if arm == "wire" {
					c = New(Config{}).Conn(c)
				}
				ln := testserver.NewChanListener(c)
				b.ReportAllocs()
				b.ResetTimer()
				go func() { _ = srv.Serve(ln) }()
				<-done
				b.StopTimer()
				inner.Close()
				_ = srv.Close()
			})
		}
	}
}

// connReader reads as net/http's connReader does: a byte its background
// read got comes first.
type connReader struct {
	c   net.Conn
	has bool
	b   [1]byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.has {
		p[0], r.has = r.b[0], false
		return 1, nil
	}
	return r.c.Read(p)
}

// background is net/http's background read, which it makes only if no
// byte is held already (connReader.startBackgroundRead).
func (r *connReader) background() {
	if !r.has {
		n, _ := r.c.Read(r.b[:])
		r.has = n == 1
	}
}

// pipelined makes the calls net/http's server makes on a connection for
// each request of a pipelined stream, through its 4 KiB bufio.Reader:
// deadlines, reads of the request, and the background read.
type pipelined struct {
	c     net.Conn
	cr    *connReader
	br    *bufio.Reader
	sizes [2]int
	i     int
}

func newPipelined(c net.Conn) *pipelined {
	cr := &connReader{c: c}
	post := strings.Index(typical, "POST")
	return &pipelined{c: c, cr: cr, br: bufio.NewReaderSize(cr, 4096), sizes: [2]int{post, len(typical) - post}}
}

func (p *pipelined) serve(t time.Time) {
	_ = p.c.SetReadDeadline(t) // IdleTimeout
	_ = p.c.SetReadDeadline(t) // ReadHeaderTimeout, after Peek
	if _, err := p.br.Discard(p.sizes[p.i%2]); err != nil {
		panic(err)
	}
	p.i++
	_ = p.c.SetReadDeadline(time.Time{}) // wholeReqDeadline
	_ = p.c.SetReadDeadline(time.Time{}) // startBackgroundRead
	p.cr.background()
	_ = p.c.SetWriteDeadline(time.Time{})
}

// BenchmarkConn measures the Conn's own cost per request (its parsing,
// timers and bookkeeping) on a pipelined stream of typical requests, read as
// net/http reads it, against the same reads of the bare connection.
func BenchmarkConn(b *testing.B) {
	for _, arm := range []string{"bare", "wire"} {
		b.Run(arm, func(b *testing.B) {
			var c net.Conn = newLoopConn()
			if arm == "wire" {
				c = New(Config{}).Conn(c)
			}
			p := newPipelined(c)
			t := time.Now().Add(time.Hour)
			b.ReportAllocs()
			b.SetBytes(int64(len(typical) / 2))
			for b.Loop() {
				p.serve(t)
			}
		})
	}
}

// seqConn is a connection whose client sends the requests of typical one
// at a time: each read returns the next whole request, and a one-byte read
// (net/http's background read) finds nothing and ends at its deadline, as
// when the client waits for the response. Its deadlines cost nothing.
type seqConn struct {
	loopConn
	off int
}

func (c *seqConn) Read(b []byte) (int, error) {
	if len(b) == 1 {
		return 0, os.ErrDeadlineExceeded
	}
	end := strings.Index(typical[c.off+1:], "POST") + c.off + 1
	if end == c.off {
		end = len(typical)
	}
	n := copy(b, typical[c.off:end])
	c.off = (c.off + n) % len(typical)
	return n, nil
}

// sequential makes the calls net/http's server makes on a connection for
// one request that a client sent whole after the previous response: its
// deadlines, its read of the request, and its background read, aborted once
// the response is out.
func sequential(c net.Conn, buf []byte, t time.Time) {
	_ = c.SetReadDeadline(t) // IdleTimeout
	if _, err := c.Read(buf); err != nil {
		panic(err)
	}
	_ = c.SetReadDeadline(t)           // ReadHeaderTimeout, after Peek
	_ = c.SetReadDeadline(time.Time{}) // wholeReqDeadline
	_ = c.SetReadDeadline(time.Time{}) // startBackgroundRead
	// abortPendingRead, which net/http makes while the background read
	// waits: here before it, so that its deadline ends the read.
	_ = c.SetReadDeadline(aLongTimeAgo)
	_, _ = c.Read(buf[:1])
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Time{})
}

var aLongTimeAgo = time.Unix(1, 0)

// BenchmarkConnSequential is BenchmarkConn for a client that sends each
// request after the previous response: each request's wait for its first
// byte is timed, which costs a reading of the clock.
func BenchmarkConnSequential(b *testing.B) {
	for _, arm := range []string{"bare", "wire"} {
		b.Run(arm, func(b *testing.B) {
			var c net.Conn = &seqConn{}
			if arm == "wire" {
				c = New(Config{}).Conn(c)
			}
			buf := make([]byte, 4096)
			t := time.Now().Add(time.Hour)
			b.ReportAllocs()
			b.SetBytes(int64(len(typical) / 2))
			for b.Loop() {
				sequential(c, buf, t)
			}
		})
	}
}

// realDeadlines is a connection whose bytes come from another (a loopConn or
// a seqConn: no system call) and whose deadlines are those of a TCP
// connection on loopback: each one set costs what it costs a server, the
// runtime poller's lock and, for a new time, a timer modified.
type realDeadlines struct {
	net.Conn
	tcp net.Conn
}

func (c *realDeadlines) SetDeadline(t time.Time) error      { return c.tcp.SetDeadline(t) }
func (c *realDeadlines) SetReadDeadline(t time.Time) error  { return c.tcp.SetReadDeadline(t) }
func (c *realDeadlines) SetWriteDeadline(t time.Time) error { return c.tcp.SetWriteDeadline(t) }

// BenchmarkConnDeadlines is BenchmarkConn and BenchmarkConnSequential over a
// connection whose deadlines cost what a socket's do, where the Conn's work
// on the deadlines net/http asks for pays for itself: it puts on the socket
// only those a read or write runs under (see deadline). "timeouts": the
// server's own IdleTimeout and ReadHeaderTimeout ask for a deadline a
// minute away, read from the clock as net/http reads it (one reading for
// both, which spares the bare connection a timer a request); "none": the
// server has no timeouts and asks only for none, so the Conn's own timers,
// Kestrel's, are the only ones.
func BenchmarkConnDeadlines(b *testing.B) {
	for _, client := range []string{"pipelined", "sequential"} {
		for _, server := range []string{"timeouts", "none"} {
			for _, arm := range []string{"bare", "wire"} {
				b.Run(client+"/"+server+"/"+arm, func(b *testing.B) {
					_, tcp := testserver.TCPPair(b)
					var c net.Conn = &realDeadlines{Conn: newLoopConn(), tcp: tcp}
					if client == "sequential" {
						c = &realDeadlines{Conn: &seqConn{}, tcp: tcp}
					}
					if arm == "wire" {
						c = New(Config{}).Conn(c)
					}
					deadline := func() time.Time { return time.Now().Add(time.Minute) }
					if server == "none" {
						deadline = func() time.Time { return time.Time{} }
					}
					serve := newPipelined(c).serve
					if client == "sequential" {
						buf := make([]byte, 4096)
						serve = func(t time.Time) { sequential(c, buf, t) }
					}
					b.ReportAllocs()
					for b.Loop() {
						serve(deadline())
					}
				})
			}
		}
	}
}

// TestAllocs guards the Conn's budget: no allocation per request at the
// default limits, pipelined or not, once the connection's first reads are
// done.
func TestAllocs(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	p := newPipelined(New(Config{}).Conn(newLoopConn()))
	for range 100 {
		p.serve(deadline)
	}
	if n := testing.AllocsPerRun(1000, func() { p.serve(deadline) }); n != 0 {
		t.Errorf("pipelined: %v allocations per request, want 0", n)
	}
	c := New(Config{}).Conn(&seqConn{})
	buf := make([]byte, 4096)
	if n := testing.AllocsPerRun(1000, func() { sequential(c, buf, deadline) }); n != 0 {
		t.Errorf("sequential: %v allocations per request, want 0", n)
	}
}

// BenchmarkParser measures the parser alone over typical, each head in one
// piece: one op is two requests.
func BenchmarkParser(b *testing.B) {
	p := parser{s: &New(Config{}).s, fresh: true}
	stream := []byte(typical)
	b.SetBytes(int64(len(typical)))
	for b.Loop() {
		for rest := stream[:]; len(rest) > 0; {
			n, ev := p.feed(rest)
			if ev != evMore && ev != evHead && ev != evEnd {
				b.Fatal(ev)
			}
			rest = rest[n:]
		}
	}
}

// BenchmarkConnSequentialTCP is BenchmarkConnSequential over loopback TCP,
// where each deadline put on the connection modifies a runtime timer: the
// client sends a request, then the server makes net/http's calls for it.
func BenchmarkConnSequentialTCP(b *testing.B) {
	for _, arm := range []string{"bare", "wire"} {
		b.Run(arm, func(b *testing.B) {
			client, c := testserver.TCPPair(b)
			if arm == "wire" {
				c = New(Config{}).Conn(c)
			}
			req := []byte(typical[:strings.Index(typical, "POST")])
			buf := make([]byte, 4096)
			t := time.Now().Add(time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Write(req); err != nil {
					b.Fatal(err)
				}
				sequential(c, buf, t)
			}
		})
	}
}
