package h1wire

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// puts counts the deadlines put on a connection.
type puts struct {
	net.Conn
	read, write atomic.Int64
}

func (p *puts) SetReadDeadline(t time.Time) error {
	p.read.Add(1)
	return p.Conn.SetReadDeadline(t)
}

func (p *puts) SetWriteDeadline(t time.Time) error {
	p.write.Add(1)
	return p.Conn.SetWriteDeadline(t)
}

// tcpPair returns both ends of a loopback TCP connection: the server's,
// under a Conn that has passed (no head is followed), and the client's.
func tcpPair(t *testing.T) (*Conn, *puts, net.Conn) {
	t.Helper()
	client, raw := testserver.TCPPair(t)
	p := &puts{Conn: raw}
	c := New(Config{}).Conn(p)
	c.Hijacked() // pass through: these tests are about deadlines alone
	return c, p, client
}

// readTimesOut reads from c and checks that the read fails with a deadline
// exceeded between lo and hi after began.
func readTimesOut(t *testing.T, c net.Conn, began time.Time, lo, hi time.Duration) {
	t.Helper()
	n, err := c.Read(make([]byte, 8))
	took := time.Since(began)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d, %v; want a deadline exceeded", n, err)
	}
	if took < lo || took > hi {
		t.Fatalf("timed out after %v, want %v to %v", took, lo, hi)
	}
}

// TestDeadlineSoonerIsPut: a deadline sooner than the one on the connection,
// asked for between reads, ends the next read on time.
func TestDeadlineSoonerIsPut(t *testing.T) {
	c, _, client := tcpPair(t)
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	go func() { _, _ = client.Write([]byte("x")) }()
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_ = c.SetReadDeadline(began.Add(200 * time.Millisecond))
	readTimesOut(t, c, began, 150*time.Millisecond, 2*time.Second)
}

// TestDeadlineWhileReading: a deadline asked for while a read waits ends
// that read, and one in the past ends it at once, as net/http's
// abortPendingRead needs.
func TestDeadlineWhileReading(t *testing.T) {
	for _, in := range []time.Duration{200 * time.Millisecond, -time.Hour} {
		c, _, _ := tcpPair(t)
		began := time.Now()
		go func() {
			time.Sleep(100 * time.Millisecond)
			_ = c.SetReadDeadline(time.Now().Add(in))
		}()
		lo := 250 * time.Millisecond
		if in < 0 {
			lo = 80 * time.Millisecond
		}
		readTimesOut(t, c, began, lo, 2*time.Second)
	}
}

// TestDeadlineEarlyPutResumes: a deadline on the connection less than a
// second sooner than the one asked for is kept, and a read it ends goes on
// until the one asked for: the data that comes in between is read.
func TestDeadlineEarlyPutResumes(t *testing.T) {
	c, p, client := tcpPair(t)
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_ = c.SetReadDeadline(began.Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(began.Add(1200 * time.Millisecond)) // the one put is less than a second sooner
	go func() {
		time.Sleep(700 * time.Millisecond)
		_, _ = client.Write([]byte("b"))
	}()
	b := make([]byte, 8)
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "b" {
		t.Fatalf("read %q, %v; want \"b\"", b[:n], err)
	}
	if got := p.read.Load(); got != 2 {
		t.Fatalf("%d read deadlines put, want 2: the first, then the one asked for once the first ended a read", got)
	}
	readTimesOut(t, c, began, 1150*time.Millisecond, 4*time.Second)
}

// TestDeadlineClearedLazily: a write deadline cleared between writes is not
// put on the connection until a write would run under the old one, and a
// write the old one ends goes on.
func TestDeadlineClearedLazily(t *testing.T) {
	c, p, client := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, client) }()
	_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	if got := p.write.Load(); got != 1 {
		t.Fatalf("%d write deadlines put, want 1", got)
	}
	time.Sleep(400 * time.Millisecond) // the deadline on the connection passes
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatalf("write after the deadline was cleared: %v", err)
	}
	if got := p.write.Load(); got != 2 {
		t.Fatalf("%d write deadlines put, want 2", got)
	}
}

// TestDeadlineWriteTimesOut: a write that the client does not read is ended
// by the write deadline, as without the Conn.
func TestDeadlineWriteTimesOut(t *testing.T) {
	c, _, _ := tcpPair(t)
	began := time.Now()
	_ = c.SetWriteDeadline(began.Add(300 * time.Millisecond))
	big := make([]byte, 64<<20)
	n, err := c.Write(big)
	took := time.Since(began)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == len(big) {
		t.Fatalf("wrote %d, %v; want a deadline exceeded", n, err)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("timed out after %v", took)
	}
}

// TestDeadlinesPerRequest: over a keep-alive connection to a server with
// Kestrel's timers, whose handler bounds the end of its response with a
// write deadline as windhover's timeouts policy does, net/http asks for a
// dozen deadlines a request; the Conn puts at most two read deadlines on
// the connection, and one write deadline a second.
func TestDeadlinesPerRequest(t *testing.T) {
	var raw atomic.Pointer[puts]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := New(Config{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Second))
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       130 * time.Second,
	}
	go func() { _ = srv.Serve(countingListener{ln, w, &raw}) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := typical[:strings.Index(typical, "POST")]
	roundTrip := func() {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("got %d %q", res.StatusCode, body)
		}
	}
	roundTrip()
	time.Sleep(50 * time.Millisecond) // the first request's last calls are made
	p := raw.Load()
	reads, writes := p.read.Load(), p.write.Load()
	const n = 50
	began := time.Now()
	for range n {
		roundTrip()
	}
	// One write deadline a second at most: a slow machine may take more
	// than one for the requests.
	maxWrites := int64(time.Since(began)/early) + 1
	time.Sleep(50 * time.Millisecond)
	reads, writes = p.read.Load()-reads, p.write.Load()-writes
	if reads > 2*n || writes > maxWrites {
		t.Fatalf("%d requests put %d read and %d write deadlines on the connection, want at most %d and %d", n, reads, writes, 2*n, maxWrites)
	}
	t.Logf("%d requests: %d read and %d write deadlines put", n, reads, writes)
}

// countingListener wraps each accepted connection in puts, then in a Conn.
type countingListener struct {
	net.Listener
	w   *Wire
	raw *atomic.Pointer[puts]
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	p := &puts{Conn: c}
	l.raw.Store(p)
	return l.w.Conn(p), nil
}
