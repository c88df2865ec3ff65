package h1wire

import (
	"bytes"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// pattern is an io.Reader (not a WriterTo) of n bytes, byte i being i%251:
// net.TCPConn.ReadFrom copies it with io.Copy (genericReadFrom).
type pattern struct{ off, n int }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(len(b), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + i) % 251)
	}
	p.off += len(b)
	return len(b), nil
}

// TestDeadlineReadFromKeepsEveryByte: a ReadFrom (net/http's path for
// io.Copy(w, src) into a response with a Content-Length) runs under exactly
// the write deadline asked for and is never resumed: net.TCPConn.ReadFrom's
// io.Copy may have read from src what a deadline kept it from writing, and a
// resumed ReadFrom would go on past it, leaving a hole in the client's
// stream. It failed so with a ReadFrom resumed like a Write.
func TestDeadlineReadFromKeepsEveryByte(t *testing.T) {
	client, raw := testserver.TCPPair(t)
	c := New(Config{}).Conn(raw) // raw: a *net.TCPConn, whose ReadFrom net/http reaches
	c.Hijacked()
	w1 := time.Now().Add(300 * time.Millisecond)
	_ = c.SetWriteDeadline(w1)
	if _, err := c.Write([]byte{0}); err != nil { // puts w1
		t.Fatal(err)
	}
	// Asked for later, within early: w1 is kept on the connection.
	_ = c.SetWriteDeadline(w1.Add(early - 50*time.Millisecond))

	const total = 32 << 20
	got := make(chan []byte, 1)
	go func() {
		var one [1]byte
		_, _ = io.ReadFull(client, one[:])
		time.Sleep(time.Until(w1) + 100*time.Millisecond) // w1 passes with the write blocked
		b, _ := io.ReadAll(client)
		got <- b
	}()
	n, err := c.ReadFrom(&pattern{n: total})
	_ = c.Close()
	b := <-got
	t.Logf("ReadFrom: %d, %v; client read %d", n, err, len(b))
	want := make([]byte, len(b))
	_, _ = io.ReadFull(&pattern{n: len(b)}, want)
	if i := firstDiff(b, want); i >= 0 {
		t.Fatalf("client's stream differs from the source at byte %d of %d: bytes read from the source were dropped", i, len(b))
	}
	if err == nil && n != total {
		t.Fatalf("ReadFrom reported %d, nil for a source of %d", n, total)
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// dlConn records the read deadline put on it; Read blocks until released.
type dlConn struct {
	net.Conn
	dl      atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (f *dlConn) SetReadDeadline(t time.Time) error { f.dl.Store(nanos(t)); return nil }
func (f *dlConn) Read(b []byte) (int, error) {
	f.entered <- struct{}{}
	<-f.release
	return 1, nil
}

// together runs read and set on two goroutines that start at the same
// moment, set after spinning spread steps, so that over many runs set
// lands at every point of read's start. It returns once set has returned
// and read has reached f's Read (entered) or returned; wait waits for read
// to return, once f is released.
func together(f *dlConn, spread int, read, set func()) (entered bool, wait func()) {
	var start atomic.Int32
	ready := func() {
		start.Add(1)
		for start.Load() < 2 {
		}
	}
	readDone, setDone := make(chan struct{}), make(chan struct{})
	go func() {
		ready()
		read()
		close(readDone)
	}()
	go func() {
		ready()
		for range spread {
			spin.Add(1)
		}
		set()
		close(setDone)
	}()
	select {
	case <-f.entered:
		entered = true
	case <-readDone:
	}
	<-setDone
	return entered, func() { <-readDone }
}

// spin is what together's setter spins on.
var spin atomic.Int64

// TestDeadlineSetWhilePutting: a deadline asked for while a read is
// starting (the case of a timeouts cut, SetReadDeadline(now), or of
// abortPendingRead) is the one the read runs under, or an earlier one, even
// when the setter's unlocked look compares it with a put that a putDeadline
// in progress (holding mu, having loaded the older want) is about to
// replace: that putDeadline looks at want again once it has put. The window
// is narrow: on the code before that, three runs in five found it.
func TestDeadlineSetWhilePutting(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 Ps")
	}
	const base = int64(1_000_000_000_000_000_000)
	p0, cut, far := base, base+int64(500*time.Millisecond), base+int64(time.Hour)
	for i := range 50000 {
		f := &dlConn{entered: make(chan struct{}, 1), release: make(chan struct{})}
		c := New(Config{}).Conn(f)
		c.Hijacked()
		d := &c.dls[rd]
		d.put.Store(p0)
		f.dl.Store(p0)
		d.want.Store(far) // asked for between reads: not put
		_, wait := together(f, i%48,
			func() { _, _ = c.read(make([]byte, 1)) },
			func() { _ = c.setDeadline(rd, fromNanos(cut)) })
		on, want := f.dl.Load(), d.want.Load()
		close(f.release)
		wait()
		if on > want {
			t.Fatalf("iteration %d: a read runs under %v, later than the %v asked for while it started",
				i, time.Duration(on-base), time.Duration(want-base))
		}
	}
}

// staleConn fails its first Read with a deadline exceeded (the stale, past
// deadline on it), then blocks until released.
type staleConn struct {
	dlConn
	reads atomic.Int32
}

func (f *staleConn) Read(b []byte) (int, error) {
	if f.reads.Add(1) == 1 {
		return 0, os.ErrDeadlineExceeded
	}
	return f.dlConn.Read(b)
}

// TestDeadlineAbortWhileResuming: net/http's abortPendingRead
// (SetReadDeadline of time.Unix(1, 0) while its background read waits)
// racing with that read's resume, which puts "no deadline" in place of a
// stale past one equal to abortPendingRead's: the background read must not
// then wait with no deadline at all (abortPendingRead would wait for the
// client).
func TestDeadlineAbortWhileResuming(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 Ps")
	}
	aLongTimeAgo := time.Unix(1, 0)
	for i := range 50000 {
		f := &staleConn{dlConn: dlConn{entered: make(chan struct{}, 1), release: make(chan struct{})}}
		c := New(Config{}).Conn(f)
		c.Hijacked()
		d := &c.dls[rd]
		d.put.Store(nanos(aLongTimeAgo)) // the last request's abortPendingRead
		f.dl.Store(nanos(aLongTimeAgo))
		d.want.Store(0) // and the SetReadDeadline(time.Time{}) after it, not put
		entered, wait := together(&f.dlConn, i%64,
			func() { _, _ = c.read(make([]byte, 1)) },
			func() { _ = c.SetReadDeadline(aLongTimeAgo) })
		on, want := f.dl.Load(), d.want.Load()
		close(f.release)
		wait()
		if entered && (on == 0 || on > want) { // a read that ended has nothing to check
			t.Fatalf("iteration %d: the background read waits under %v (0: none) though %v was asked for while it ran",
				i, fromNanos(on), fromNanos(want))
		}
	}
}

// expiringConn's Read waits until released, then fails as a deadline on it
// had passed.
type expiringConn struct {
	dlConn
	reads atomic.Int32
}

func (f *expiringConn) Read(b []byte) (int, error) {
	if f.reads.Add(1) > 1 {
		return 1, nil // what the client sends later
	}
	f.entered <- struct{}{}
	<-f.release
	return 0, os.ErrDeadlineExceeded
}

// TestDeadlineExtendedAsKeptOneEnds: a read runs under a kept deadline half a
// second before the one asked for; as that kept one ends the read, another
// goroutine extends the deadline by an hour (put at once: a read is under
// way). No deadline asked for has passed, so the read goes on, as on a bare
// connection.
func TestDeadlineExtendedAsKeptOneEnds(t *testing.T) {
	f := &expiringConn{dlConn: dlConn{entered: make(chan struct{}, 1), release: make(chan struct{})}}
	c := New(Config{}).Conn(f)
	c.Hijacked()
	now := time.Now()
	kept := now.Add(9500 * time.Millisecond)
	c.dls[rd].put.Store(nanos(kept))
	f.dl.Store(nanos(kept))
	_ = c.SetReadDeadline(now.Add(10 * time.Second)) // fits kept: not put
	errc := make(chan error, 1)
	go func() { _, err := c.read(make([]byte, 1)); errc <- err }()
	<-f.entered
	// The kept deadline ends the read (the wrapped Read is returning),
	// while the deadline is extended.
	_ = c.SetReadDeadline(now.Add(time.Hour))
	close(f.release)
	if err := <-errc; err != nil {
		t.Fatalf("read failed with %v; no deadline asked for had passed", err)
	}
}

// TestDeadlineFarAway: a deadline past 2262 (time.Now().Add(math.MaxInt64),
// a "never" some code uses), which UnixNano cannot hold, is far away, and
// one before 1678 has passed, as on a bare connection.
func TestDeadlineFarAway(t *testing.T) {
	c, _, client := tcpPair(t)
	// A deadline taken for one far away would hold the read: the client's
	// close ends it, and the test fails rather than hangs.
	stop := time.AfterFunc(5*time.Second, func() { _ = client.Close() })
	defer stop.Stop()
	_ = c.SetReadDeadline(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))
	readTimesOut(t, c, time.Now(), 0, time.Second)
	_ = c.SetReadDeadline(time.Now().Add(1<<63 - 1))
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = client.Write([]byte("x"))
	}()
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatalf("read under a deadline in 2318: %v", err)
	}
}
