package h1wire

import (
	"errors"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The directions of a Conn's deadlines, indexes of Conn.dls.
const (
	rd = iota
	wr
)

// early is how much sooner than the deadline asked for the one on the
// wrapped connection may be and still be kept: an operation it ends too
// soon is resumed under the deadline asked for, so the deadline a client
// meets is exact, and a connection that serves more than a request a second
// puts one deadline on its connection for many.
const early = time.Second

// deadline keeps one direction of a Conn's deadline: the one asked for
// (by net/http, a handler or the Conn itself) and the one on the wrapped
// connection, which is put there only when it must be. net/http asks for a
// read deadline six or more times a request and a write deadline twice
// (windhover's timeouts policy bounds the end of each response), and each
// one put on a connection modifies a runtime timer, about a tenth of a
// microsecond on an idle machine and several times that under load. Only
// the deadline an operation runs under matters:
//
//   - An operation (a read or a write of the wrapped connection) first puts
//     the deadline asked for on it, unless the one there is no later and
//     less than [early] sooner; or, when none is asked for, any deadline.
//   - An operation that the deadline on the connection ends, though the one
//     asked for has not passed, puts that one on and goes on.
//   - A deadline asked for while an operation is under way is put on the
//     connection at once, as net/http's abortPendingRead needs.
//   - A ReadFrom (sendfile, splice, or net.TCPConn's own io.Copy) runs under
//     exactly the deadline asked for and is not resumed: one that a deadline
//     ends may have read from its source what it did not write.
//
// So the deadline of every operation is the one asked for, never later; a
// request that follows its response within a second puts no write deadline
// on its connection and at most two read deadlines: the past one with which
// net/http's abortPendingRead ends the background read, and the Conn's
// keep-alive timer after it.
type deadline struct {
	mu   sync.Mutex    // serialises putting; whoever puts looks at want again after
	want atomic.Int64  // the deadline asked for (nanos); 0 none
	put  atomic.Int64  // the deadline on the wrapped connection (nanos); 0 none
	busy atomic.Int32  // operations under way (several writers after a hijack)
	gen  atomic.Uint32 // deadlines put, to tell whether one was put since an operation began (wraps: only equality counts)
}

// base is the time deadlines are kept from: a deadline is kept as its
// distance from base, in ns, so that it is measured on the monotonic clock
// as the time it was asked as is (time.Time.Sub), and a distance too great
// for an int64 saturates rather than wraps.
var base = time.Now()

// nanos returns t as a deadline kept: 0 for none, never 0 for a time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if ns := int64(t.Sub(base)); ns != 0 {
		return ns
	}
	return 1
}

// fromNanos is the inverse of nanos.
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return base.Add(time.Duration(ns))
}

// now is the present as a deadline kept.
func now() int64 { return int64(time.Since(base)) }

// addNanos returns the deadline kept d after at, saturating rather than
// wrapping, as nanos does for a time too far.
// It is never 0, which keeps no deadline.
func addNanos(at int64, d time.Duration) int64 {
	sum := at + int64(d)
	switch {
	case d > 0 && sum < at:
		return math.MaxInt64
	case d < 0 && sum > at:
		return math.MinInt64
	case sum == 0:
		return 1
	}
	return sum
}

// fits reports whether the deadline put on the connection serves for the one
// asked for: see [deadline].
func fits(want, put int64) bool {
	if want == 0 || put == want {
		return true
	}
	return put != 0 && put <= want && put >= want-int64(early)
}

// setDeadline asks for t in direction dir.
func (c *Conn) setDeadline(dir int, t time.Time) error {
	return c.setDeadlineNanos(dir, nanos(t))
}

// setDeadlineNanos asks for the deadline kept ns in direction dir.
func (c *Conn) setDeadlineNanos(dir int, ns int64) error {
	d := &c.dls[dir]
	if d.want.Load() == ns {
		return nil // net/http asks for the same one several times
	}
	d.want.Store(ns)
	if d.busy.Load() != 0 {
		return c.putDeadline(dir, false)
	}
	return nil
}

// putDeadline puts the deadline asked for in direction dir on the wrapped
// connection, unless the one there fits it; with exact, unless it is the
// same. Whether it put one shows in the count of puts, gen.
func (c *Conn) putDeadline(dir int, exact bool) error {
	d := &c.dls[dir]
	if !exact && fits(d.want.Load(), d.put.Load()) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	put := false
	for {
		// A deadline asked for after want was loaded may have been
		// compared, unlocked, with the put this replaces: look again.
		want, on := d.want.Load(), d.put.Load()
		if on == want || (!exact || put) && fits(want, on) {
			return nil
		}
		d.put.Store(want)
		d.gen.Add(1)
		put = true
		var err error
		if dir == rd {
			err = c.Conn.SetReadDeadline(fromNanos(want))
		} else {
			err = c.Conn.SetWriteDeadline(fromNanos(want))
		}
		if err != nil {
			return err
		}
	}
}

// resume reports whether an operation in direction dir that failed with err
// is to go on: a deadline on the connection ended it though the one asked
// for, now on the connection, has not passed, and one was put since the
// operation began (*gen).
func (c *Conn) resume(dir int, err error, gen *uint32) bool {
	d := &c.dls[dir]
	want := d.want.Load()
	if want == d.put.Load() && d.gen.Load() == *gen {
		return false // the deadline asked for, on since it began, ended it (or none did)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	if want != 0 && now() >= want {
		return false
	}
	if perr := c.putDeadline(dir, true); perr != nil {
		return false
	}
	if g := d.gen.Load(); g != *gen {
		*gen = g
		return true
	}
	return false
}

// startOp starts an operation in direction dir: the deadline asked for is on
// the wrapped connection, or one that fits it. It returns the count of
// deadlines put, for resume; endOp must follow unless it fails.
func (c *Conn) startOp(dir int) (uint32, error) {
	d := &c.dls[dir]
	d.busy.Add(1)
	if !fits(d.want.Load(), d.put.Load()) {
		if err := c.putDeadline(dir, false); err != nil {
			d.busy.Add(-1)
			return 0, err
		}
	}
	return d.gen.Load(), nil
}

// endOp ends an operation in direction dir.
func (c *Conn) endOp(dir int) { c.dls[dir].busy.Add(-1) }

// read reads the wrapped connection under the read deadline asked for.
func (c *Conn) read(b []byte) (int, error) {
	gen, err := c.startOp(rd)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	for n == 0 && err != nil && c.resume(rd, err, &gen) {
		n, err = c.Conn.Read(b)
	}
	c.endOp(rd)
	return n, err
}

// Write writes to the wrapped connection under the write deadline asked
// for.
func (c *Conn) Write(b []byte) (int, error) {
	gen, err := c.startOp(wr)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	for err != nil && n < len(b) && c.resume(wr, err, &gen) {
		var k int
		k, err = c.Conn.Write(b[n:])
		n += k
	}
	c.endOp(wr)
	return n, err
}

// ReadFrom keeps the wrapped connection's ReadFrom within reach of net/http,
// which uses it to send files with sendfile(2), under exactly the write
// deadline asked for.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	c.dls[wr].busy.Add(1)
	defer c.endOp(wr)
	// Exactly the deadline asked for, and no resuming: a ReaderFrom that
	// a deadline ends may have read from r what it did not write
	// (net.TCPConn's io.Copy, splice's pipe).
	if err := c.putDeadline(wr, true); err != nil {
		return 0, err
	}
	return rf.ReadFrom(r)
}
