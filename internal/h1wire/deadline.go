package h1wire

import (
	"errors"
	"io"
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
//
// So the deadline of every operation is the one asked for, never later; a
// request that follows its response within a second puts no write deadline
// on its connection and one read deadline (net/http's abortPendingRead
// ends each request's background read with a deadline in the past).
type deadline struct {
	mu   sync.Mutex   // serialises putting: the last put is of the last asked
	want atomic.Int64 // the deadline asked for, unix ns; 0 none
	put  atomic.Int64 // the deadline on the wrapped connection, unix ns; 0 none
	busy atomic.Int32 // operations under way (several writers after a hijack)
}

// nanos returns t as the deadline's unix ns: 0 for none, and never 0 for a
// time that is one.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if ns := t.UnixNano(); ns != 0 {
		return ns
	}
	return 1
}

// fromNanos is the inverse of nanos.
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
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
	d := &c.dls[dir]
	ns := nanos(t)
	if d.want.Load() == ns {
		return nil // net/http asks for the same one several times
	}
	d.want.Store(ns)
	if d.busy.Load() != 0 {
		_, err := c.putDeadline(dir, false)
		return err
	}
	return nil
}

// putDeadline puts the deadline asked for in direction dir on the wrapped
// connection, unless the one there fits it; with exact, unless it is the
// same. It reports whether it put one.
func (c *Conn) putDeadline(dir int, exact bool) (bool, error) {
	d := &c.dls[dir]
	if !exact && fits(d.want.Load(), d.put.Load()) {
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	want, put := d.want.Load(), d.put.Load()
	if put == want || !exact && fits(want, put) {
		return false, nil
	}
	d.put.Store(want)
	t := fromNanos(want)
	if dir == rd {
		return true, c.Conn.SetReadDeadline(t)
	}
	return true, c.Conn.SetWriteDeadline(t)
}

// resume reports whether an operation in direction dir that failed with err
// is to go on: the deadline on the connection ended it, and the one asked
// for, now put on the connection, has not passed.
func (c *Conn) resume(dir int, err error) bool {
	d := &c.dls[dir]
	want := d.want.Load()
	if want == d.put.Load() || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false // the deadline asked for ended it, or no deadline did
	}
	if want != 0 && time.Now().UnixNano() >= want {
		return false
	}
	put, perr := c.putDeadline(dir, true)
	return put && perr == nil
}

// read reads the wrapped connection under the read deadline asked for.
func (c *Conn) read(b []byte) (int, error) {
	d := &c.dls[rd]
	d.busy.Add(1)
	if !fits(d.want.Load(), d.put.Load()) {
		if _, err := c.putDeadline(rd, false); err != nil {
			d.busy.Add(-1)
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	for n == 0 && err != nil && c.resume(rd, err) {
		n, err = c.Conn.Read(b)
	}
	d.busy.Add(-1)
	return n, err
}

// Write writes to the wrapped connection under the write deadline asked
// for.
func (c *Conn) Write(b []byte) (int, error) {
	d := &c.dls[wr]
	d.busy.Add(1)
	if !fits(d.want.Load(), d.put.Load()) {
		if _, err := c.putDeadline(wr, false); err != nil {
			d.busy.Add(-1)
			return 0, err
		}
	}
	n, err := c.Conn.Write(b)
	for err != nil && n < len(b) && c.resume(wr, err) {
		var k int
		k, err = c.Conn.Write(b[n:])
		n += k
	}
	d.busy.Add(-1)
	return n, err
}

// ReadFrom keeps the wrapped connection's ReadFrom within reach of net/http,
// which uses it to send files with sendfile(2), under the write deadline
// asked for.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	d := &c.dls[wr]
	d.busy.Add(1)
	defer d.busy.Add(-1)
	if _, err := c.putDeadline(wr, false); err != nil {
		return 0, err
	}
	n, err := rf.ReadFrom(r)
	for err != nil && c.resume(wr, err) {
		var k int64
		k, err = rf.ReadFrom(r)
		n += k
	}
	return n, err
}
