package timeouts

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// What net/http does with a request body the handler left unread, over
// HTTP/1: before it writes the response's header, at the handler's first
// write that reaches the connection or after the handler returns, it reads up
// to 256 KiB of the rest so that the connection can carry a next request;
// and after the response it reads the rest again when it closes the body,
// even when the response said "Connection: close". Both reads wait at the
// client's pace, with no deadline unless the server has a ReadTimeout: a
// client that announces a body and never sends it holds the connection, and
// gets no response, for as long as it likes.
//
// The policy settles the question just before the response's header is
// committed (settle), while the header can still say "Connection: close":
//
//   - a body read to its end needs nothing;
//   - the rest of a small body, already here or arriving within drainWait,
//     is read then and set aside for the handler's later Reads (a handler may
//     read after it wrote), and the connection is kept;
//   - anything else (a larger or chunked rest, a rest that does not arrive
//     within drainWait, a client that asked for 100-continue and was never
//     asked to send, a client already going) gets "Connection: close", so
//     that net/http skips its first read, and when the handler returns
//     (finish), if the body is still not read to its end, an expired read
//     deadline makes net/http's last read fail at once.
//
// Over HTTP/2 the stream ends with the handler, and nothing is needed.

// drainWait bounds how long the response waits for the rest of a small body
// that the handler left unread: long enough for bytes already on their way,
// short enough that a client that never sends them gets its answer at once.
const drainWait = 50 * time.Millisecond

// stashSize bounds the rest of a body that is read and set aside: what
// net/http's 4 KiB read buffer holds, where a small body that came with the
// request's head already is.
const stashSize = 4 << 10

var stashes = sync.Pool{New: func() any { return new([stashSize]byte) }}

// settle makes sure, over HTTP/1, that net/http cannot wait on the rest of
// the request body when the response with status code goes out. It runs on
// the handler's goroutine, before the header is committed; with the header
// it may add "Connection: close".
func (q *request) settle(code int) {
	b := q.b
	if b == nil || q.h2 || q.settled {
		return
	}
	q.settled = true
	if code == http.StatusSwitchingProtocols {
		return // the handler takes the connection, and the body with it
	}
	if !b.mu.TryLock() {
		// A Read in progress on another goroutine: the handler reads
		// the body while it answers (full duplex).
		q.closeAfter()
		return
	}
	defer b.mu.Unlock()
	if b.eof {
		return
	}
	q.mu.Lock()
	violated := q.inViolation != nil
	q.mu.Unlock()
	remaining := q.r.ContentLength - b.read
	switch {
	case violated, b.failed, q.r.Close, q.closingHeader(), q.star, q.unreachable:
		// The body is dead, or the client or the response says the
		// connection closes (a refusal by a policy inside: see
		// refuse.SkipBody); or it is "OPTIONS *", whose body net/http
		// reads to 4 KiB and no further; or nothing can bound a read.
		q.closeAfter()
	case q.r.ContentLength < 0 || remaining >= stashSize:
		// A chunked or larger rest: it may be long coming, and net/http
		// would read up to 256 KiB of it before the response.
		q.closeAfter()
	case b.read == 0 && q.r.Header.Get("Expect") != "":
		// Reading would send "100 Continue" and ask for a body nobody
		// wants; net/http closes such a connection too.
		q.closeAfter()
	default:
		q.drain()
	}
}

// drain reads the rest of a small body, waiting at most drainWait, and sets
// it aside. Called with the body's mu held.
func (q *request) drain() {
	b := q.b
	deadline := time.Now().Add(drainWait)
	if !b.readLimit.IsZero() && deadline.After(b.readLimit) {
		deadline = b.readLimit
	}
	if q.setReadDeadline(deadline) != nil {
		q.closeAfter()
		return
	}
	buf := stashes.Get().(*[stashSize]byte)
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = b.rc.Read(buf[n:])
		n += m
	}
	switch err {
	case io.EOF:
		b.eof = true
		// net/http cleared the deadline itself when its body reached
		// its end, before it started reading ahead for the next request
		// (a ReadTimeout ends there too); a body that some middleware
		// replaced did not. Were the deadline reached first, that read
		// ahead would have failed and cancelled the connection's
		// context: then the connection must not serve another request.
		_ = q.setReadDeadline(time.Time{})
		if !time.Now().Before(deadline) {
			q.closeAfter()
		}
	case nil:
		// More than the length announced: a body some middleware
		// replaced. Its rest is the handler's business.
		_ = q.setReadDeadline(b.readLimit)
		q.closeAfter()
	default:
		// Not here in time. The deadline stays expired: the connection
		// closes after the response, and net/http reads no more of it.
		b.failed = true
		q.closeAfter()
	}
	if n == 0 || b.closed {
		stashes.Put(buf)
		return
	}
	b.stashBuf, b.stash = buf, buf[:n]
}

// closeAfter makes the response close the connection: net/http then does not
// read the rest of the body before the response, and finish makes sure it
// does not after.
func (q *request) closeAfter() {
	q.closing = true
	if !q.r.Close && !q.closingHeader() {
		q.w.Header().Set("Connection", "close")
	}
}

// closingHeader reports whether the response's header already closes the
// connection, as net/http reads it. A header nobody asked for has nothing in
// it, and looking would make net/http copy it.
func (q *request) closingHeader() bool {
	return q.w.HeaderUsed() && q.w.Header().Get("Connection") == "close"
}

// finishBody runs when the handler has returned, over HTTP/1, before net/http
// writes what is left of the response and closes the body. A connection that
// closes with part of its body unread gets an expired read deadline, so that
// net/http's last read of the body fails at once instead of waiting for the
// client. A connection kept alive has its body read to the end, and is left
// alone: an expired deadline would make net/http's read ahead for the next
// request fail and cancel the connection's context.
func (q *request) finishBody() {
	q.mu.Lock()
	violated, hijacked := q.inViolation != nil, q.hijacked
	q.mu.Unlock()
	if hijacked {
		return
	}
	if !q.w.Committed() && !violated {
		q.settle(http.StatusOK) // the implicit 200 goes out after
	}
	if violated {
		q.closing = true
	}
	b := q.b
	eof, closed := false, false
	if b.mu.TryLock() {
		eof, closed = b.eof, b.closed && !b.rcClosed
		b.releaseStash()
		b.mu.Unlock()
	}
	stopped := false
	if q.closing && !eof && q.setReadDeadline(time.Unix(1, 0)) == nil {
		// Failing that, the request was counted as unenforceable when
		// it came.
		stopped = true
		if !violated {
			q.p.unreadBodies.Add(1)
		}
	}
	if closed && (eof || stopped) {
		// The handler closed the body before its end; the Close it
		// asked for cannot wait for the client any more.
		_ = b.rc.Close()
	}
}
