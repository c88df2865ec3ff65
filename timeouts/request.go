package timeouts

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/tracer"
)

// netHTTPBuffer is the least net/http buffers of a response body before it
// writes to the connection: 2 KiB over HTTP/1 (4 KiB over HTTP/2). A write
// that fits in what is left of it cannot block, so it needs no alarm.
const netHTTPBuffer = 2 << 10

// chunkSize bounds one timed write: a larger Write, or an io.Copy into the
// response, is timed in chunks of this size, so that a client that stops
// reading is noticed within max(GracePeriod, chunkSize/BytesPerSecond) rather
// than after the whole write's allowance.
const chunkSize = 64 << 10

// request is the state of one policed request. Reads and writes of the
// handler's goroutines and the alarm's goroutine meet under mu; headerBytes
// and quiet, which only the goroutine writing the response touches, are
// exceptions, and so is all of a request that no other goroutine can reach
// (alone).
type request struct {
	mu sync.Mutex
	state
	// Whether an alarm may call the request, which then takes the lock
	// for good (alone). alarmed is set, under mu, when the request gets an
	// alarm, and cleared as finish gives it back free (alarm.release).
	// haunted is set if an alarm was calling the request as finish gave it
	// back: that call may come late, once the pool has handed the request
	// on, and is never known to be over. Both outlive recycle.
	alarmed, haunted bool
	// uses counts the times the request was cleared for the pool, so that
	// a call of check that let go of the lock to report knows, taking it
	// again, whether the request is still the one it checked.
	uses uint64
}

// state is a request's state but its lock, so that a pooled request can be
// cleared under the lock (request.recycle).
type state struct {
	w      rw.Writer
	p      *Policy
	r      *http.Request   // the request as handed on
	b      *body           // its body; nil for a request without one
	shared *clock.Readings // the composition's, which finish's reading goes to; nil if it shares none

	alarm *alarm
	armed time.Time // when the alarm will fire; zero if it will not

	in          Rate
	inBytes     int64         // read while policed
	inCredit    int64         // of them, those the rate credits (Rate.creditLimit)
	inTime      time.Duration // counted: spent waiting in Read
	readStart   time.Time     // zero unless a Read is in progress
	readBy      time.Time     // when the Read in progress breaks the rate
	inViolation *RateError

	out          Rate
	outOff       atomic.Bool // out.IsOff(), for a write without the lock (alone)
	outBytes     int64
	outStart     time.Time
	writeBy      time.Time // the running deadline of the writes
	writing      int       // writes (and flushes) in progress
	quiet        bool      // the write in progress stays in net/http's buffer: its EndWrite has nothing to do (the writing goroutine's alone)
	announced    int64     // bytes announced by the last BeginWrite
	buffered     int64     // body bytes net/http may still hold in its buffer
	pending      int64     // bytes written into that buffer, not yet charged
	headerBytes  int64     // status line and header, counted with the first write
	outViolation *RateError

	// How deadlines reach the connection when the writer chain hides
	// net/http's: the connection Apply put in the context (HTTP/1), or
	// nothing (unreachable, counted when the request came).
	conn net.Conn

	// When the server's WriteTimeout, kept by Config.KeepServerTimeouts,
	// ends the response (Unix nanoseconds; 0 if none): a write deadline the
	// policy sets is never later.
	writeLimit int64

	h2          bool
	unflushed   bool // bytes written since the last flush
	knownBuffer bool // the writer under the handler is net/http's, buffered
	unreachable bool
	hijacked    bool
	done        bool // the handler has returned: nothing more is policed

	// Set on the handler's goroutine when the response starts and ends
	// (unread.go).
	settled bool // the question of the unread body was settled
	closing bool // the connection closes after the response
	star    bool // an "OPTIONS *" the handler answers itself
}

// requests pools the state of the requests without a body: most requests,
// which need no copy of the request to hand on. A request with a body is not
// pooled, since the copy handed on may be kept past the handler's return (a
// goroutine that waits for its context to end, say).
var requests sync.Pool

// getRequest returns a cleared request from the pool, or a new one.
func getRequest() *request {
	if q, ok := requests.Get().(*request); ok {
		return q
	}
	return new(request)
}

// recycle clears q, whose handler has returned and which finish has ended,
// and gives it back to the pool.
func (q *request) recycle() {
	q.clear()
	requests.Put(q)
}

// clear clears q for its next use. Unless q is alone, the lock guards the
// clearing from an alarm that was calling as finish gave it back: its check
// then finds a cleared request with nothing to enforce, or, once q is
// reused, checks the next request's deadlines, which is harmless (see
// alarm.fire); a check that reported a violation of the cleared request
// cuts nothing (uses).
func (q *request) clear() {
	if !q.alone() {
		q.mu.Lock()
		q.state = state{}
		q.uses++
		q.mu.Unlock()
	} else {
		q.state = state{}
		q.uses++
	}
}

// alone reports whether only the handler's goroutines can touch q, which
// net/http lets use the ResponseWriter one at a time and not once the
// handler has returned: q has no body that another goroutine may read, and
// no alarm may call it. A write that stays in net/http's buffer and the end
// of the request then take no lock (BeginWrite, finish, recycle). The one
// other thing a handler's goroutine may do beside a write, switch the
// response rate, is seen through outOff.
func (q *request) alone() bool { return q.b == nil && !q.alarmed && !q.haunted }

// bodyRequest is a request with a body, in one allocation: its state, the
// shallow copy of the request handed on, and the timed body.
type bodyRequest struct {
	request
	req  http.Request
	body body
}

var _ rw.Hooks = (*request)(nil)

// beginRead starts timing a body Read. It reports whether the Read is
// policed, or the violation that already ended the body.
func (q *request) beginRead() (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inViolation != nil {
		return false, q.inViolation
	}
	if q.in.IsOff() || q.hijacked || q.done {
		return false, nil
	}
	now := clock.Now()
	q.readStart = now
	q.readBy = q.in.readDeadline(now, q.inCredit, q.inTime)
	q.arm(now, q.readBy)
	return true, nil
}

// endRead stops timing a body Read and returns its result, or the rate error
// if the alarm cut it.
func (q *request) endRead(n int, err error) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.readStart.IsZero() {
		q.inTime += time.Since(q.readStart)
		q.readStart = time.Time{}
	}
	q.inBytes += int64(n)
	// min(credit+n, limit), without overflow.
	q.inCredit = min(q.inCredit, q.in.creditLimit(q.inTime)-int64(n)) + int64(n)
	if q.inViolation != nil {
		if q.inViolation.Err == nil && err != nil && err != io.EOF {
			q.inViolation.Err = err
		}
		return n, q.inViolation
	}
	return n, err
}

// defaultHeaderBytes stands for the header of a response whose handler never
// looked at its header: what net/http adds (Date, Content-Type,
// Content-Length or Transfer-Encoding) comes to about this much.
const defaultHeaderBytes = 128

// WriteHeader notes the size of the status line and header, which count
// toward the response rate with the first write, as Kestrel counts them.
func (q *request) WriteHeader(code int) {
	q.settle(code)
	size := len("HTTP/1.1 000 \r\n\r\n") + len(http.StatusText(code))
	if !q.w.HeaderUsed() {
		// Calling Header would make net/http copy the header map.
		size += defaultHeaderBytes
	} else {
		for name, values := range q.w.Header() {
			for _, v := range values {
				size += len(name) + len(v) + len(": \r\n")
			}
		}
	}
	// Without the lock: only the handler's goroutine reads headerBytes
	// (BeginWrite, finish); the alarm's check never does.
	q.headerBytes = int64(size)
}

// BeginWrite starts timing a write of n bytes (0 for a flush): the running
// deadline moves to max(now + max(grace, n/rate), previous + n/rate).
func (q *request) BeginWrite(n int64) {
	if q.alone() && q.untimed(n) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.untimed(n) {
		return
	}
	if n < 0 {
		n = chunkSize
	}
	q.announced = 0
	q.unflushed = n > 0
	q.outBytes += n + q.headerBytes
	q.writing++
	q.buffered = n
	q.announced = n
	n += q.pending + q.headerBytes
	q.pending, q.headerBytes = 0, 0
	now := clock.Now()
	q.writeBy = q.out.writeDeadline(now, q.writeBy, n)
	if q.outStart.IsZero() {
		q.outStart = now
	}
	q.arm(now, q.writeBy)
}

// untimed deals with a write of n bytes (as BeginWrite has them) that is not
// timed, and reports whether it was one: the response is not policed, or the
// write stays in net/http's buffer. Such a write cannot block: its bytes (and
// the header's) are charged when they leave the buffer, with the next write
// that may reach the connection, or at the handler's end. The alarm need not
// know of it, and its EndWrite takes no lock.
func (q *request) untimed(n int64) bool {
	if q.outOff.Load() || q.hijacked || q.done {
		return true
	}
	if n <= 0 || !q.knownBuffer || q.buffered+n > netHTTPBuffer {
		return false
	}
	q.announced = 0
	q.unflushed = true
	q.outBytes += n + q.headerBytes
	q.buffered += n
	q.pending += n + q.headerBytes
	q.headerBytes = 0
	q.quiet = true
	return true
}

// EndWrite stops timing a write. A chunk of a copy that came up short (the
// end of the source) gives back the allowance of the bytes it did not write.
func (q *request) EndWrite(n int64, _ error) {
	if q.quiet {
		q.quiet = false
		return
	}
	q.mu.Lock()
	if q.writing > 0 {
		q.writing--
	}
	if short := q.announced - n; short > 0 && n >= 0 {
		q.writeBy = q.writeBy.Add(-q.out.allowance(short))
		q.outBytes -= short
	}
	q.announced = 0
	q.mu.Unlock()
}

// Hijacked stops policing: the connection is the handler's now.
func (q *request) Hijacked(c net.Conn) net.Conn {
	q.mu.Lock()
	q.hijacked = true
	q.mu.Unlock()
	return c
}

// arm makes sure the alarm fires no later than at. Deadlines only move
// later while an operation is in progress, so an alarm armed earlier is left
// alone: when it fires, check arms it again for what is then pending.
func (q *request) arm(now, at time.Time) {
	if !q.armed.IsZero() && !at.Before(q.armed) {
		return
	}
	if q.alarm == nil {
		q.alarm = getAlarm(q)
		q.alarmed = true
	}
	q.armed = at
	q.alarm.t.Reset(at.Sub(now))
}

// check runs when the alarm fires. For a Read or write whose deadline has
// passed it records and reports the violation, then cuts the operation; for
// what is still pending it arms the alarm again. The cut is made under mu,
// so that it cannot reach a ResponseWriter whose handler has returned:
// finish takes mu before it returns, as a request an alarm may call is not
// alone.
func (q *request) check() {
	q.mu.Lock()
	q.armed = time.Time{}
	if q.done || q.hijacked {
		q.mu.Unlock()
		return
	}
	now := clock.Now()
	var bodyErr, respErr *RateError
	if !q.readStart.IsZero() && q.inViolation == nil && !q.in.IsOff() {
		if now.Before(q.readBy) {
			q.arm(now, q.readBy)
		} else if q.p.debugged() {
			q.arm(now, now.Add(tracer.Interval)) // enforced once the debugger is gone
		} else {
			bodyErr = &RateError{Rate: q.in, Bytes: q.inBytes, Elapsed: q.inTime + now.Sub(q.readStart)}
			q.inViolation = bodyErr
			q.p.bodyViolations.Add(1)
		}
	}
	if q.writing > 0 && q.outViolation == nil && !q.out.IsOff() {
		if now.Before(q.writeBy) {
			q.arm(now, q.writeBy)
		} else if q.p.debugged() {
			q.arm(now, now.Add(tracer.Interval))
		} else {
			respErr = &RateError{Rate: q.out, Bytes: q.outBytes, Elapsed: now.Sub(q.outStart), response: true}
			q.outViolation = respErr
			q.p.respViolations.Add(1)
		}
	}
	p, r, use := q.p, q.r, q.uses
	q.mu.Unlock()
	if bodyErr == nil && respErr == nil {
		return
	}

	// Report before cutting, so that a log line comes before its effects.
	if bodyErr != nil {
		report(p, r, bodyErr)
	}
	if respErr != nil {
		report(p, r, respErr)
	}

	// The request may have ended meanwhile, and even been handed to the
	// next one by the pool: the cut is then not for it.
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.uses != use || q.done || q.hijacked {
		return
	}
	if bodyErr != nil {
		// Over HTTP/1 this sets the connection's read deadline; over
		// HTTP/2 it ends the stream's body, without a message to the
		// connection's serve goroutine.
		_ = q.setReadDeadline(now)
	}
	if respErr != nil {
		// Over HTTP/1 the connection's write deadline, after which
		// net/http closes it; over HTTP/2 a reset of the stream.
		_ = q.setWriteDeadline(now)
	}
}

// report gives err, a violation of request r under p, to p's OnReject.
func report(p *Policy, r *http.Request, err *RateError) {
	if f := p.onReject; f != nil {
		f(r, err)
	}
}

// finish ends policing when the handler returns: it answers 408 for a body
// that was cut before anything was written, makes sure net/http will not wait
// for the rest of an unread body, bounds what net/http still writes for the
// response, and gives the alarm back.
func (q *request) finish() {
	if q.b != nil && !q.h2 {
		q.finishBody()
	}
	lock := !q.alone()
	if lock {
		q.mu.Lock()
	}
	inViolated := q.inViolation != nil
	policeOut := !q.out.IsOff() && !q.hijacked && q.outViolation == nil
	var deadline time.Time
	if policeOut && (!q.h2 || q.unflushed) {
		// What is still buffered (and charged to no write yet) leaves
		// now, as one last write.
		ns := clock.Nanos()
		now := clock.At(ns)
		if q.shared != nil {
			q.shared.Returned = ns
		}
		deadline = q.out.writeDeadline(now, q.writeBy, q.pending+q.headerBytes)
		if q.writeLimit != 0 && deadline.UnixNano() > q.writeLimit {
			deadline = time.Unix(0, q.writeLimit) // the server's WriteTimeout is sooner
		}
	}
	a := q.alarm
	q.alarm = nil
	q.done = true
	if lock {
		q.mu.Unlock()
	}
	if a != nil {
		if a.release() {
			q.alarmed = false
		} else {
			q.haunted = true
		}
	}

	if inViolated && !q.w.Committed() {
		if !q.h2 {
			q.w.Header().Set("Connection", "close")
		}
		http.Error(q.w.Unwrap(), http.StatusText(http.StatusRequestTimeout), http.StatusRequestTimeout)
	}
	if !deadline.IsZero() {
		// What net/http writes after the handler returns is outside any
		// Write: over HTTP/1 the buffered end of the body, or the header
		// of a response with none; over HTTP/2 the last buffered bytes,
		// which wait for a flow-control window the client may never
		// open. A write deadline bounds it. Over HTTP/1 net/http clears
		// the connection's deadline once the response is out, so it never
		// reaches the next request; over HTTP/2 the stream's timer goes
		// with the stream, and a response whose bytes were all flushed
		// needs none.
		_ = q.setWriteDeadline(deadline)
	}
}
