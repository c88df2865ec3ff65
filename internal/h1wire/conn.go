package h1wire

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/connctx"
	"github.com/windhover/windhover/internal/netconn"
)

// The deadline a Conn keeps on the connection it wraps, while it times a
// head.
const (
	dlNone      = iota // the server's own
	dlKeepAlive        // KeepAliveTimeout from the start of the wait
	dlHeaders          // RequestHeadersTimeout from the head's first byte
	dlEarly            // dlHeaders before a later head's fourth byte, under the server's bounds (see Conn.Bound)
)

// Conn is a connection from [Wire.Conn]: it follows the requests an
// http.Server reads from it, answers the heads Kestrel would refuse, and
// times each head as Kestrel does. See the package documentation for how it
// shares the read deadline with net/http.
//
// Conn keeps the optional methods net/http relies on (ReadFrom for
// sendfile, CloseWrite) and offers NetConn to reach the connection it wraps.
// Read is for one goroutine at a time, as for any net.Conn read by net/http;
// the other methods are safe for concurrent use.
type Conn struct {
	net.Conn
	p parser

	// The Wires whose settings each part follows and which count its
	// decisions: the Wire that made the Conn, or one that joined.
	head, timers *Wire

	// Read's own state.
	stash   []byte // bytes read past the end of a request
	sp, se  int    // stash[sp:se] are still to be read
	later   error  // the wrapped Read's error that came with the stash
	inHead  bool   // a head is being read: its timing is the Conn's
	await   bool   // a request ended and the server has not begun the next
	gotByte bool   // a byte of the current request's line arrived
	started bool   // a byte of the connection arrived (Read's copy of !fresh)
	headed  bool   // a head of the connection ended: the next is not its first
	held    bool   // stash[sp-1], read by the background read, is not parsed yet
	dl      uint8  // dlNone, dlKeepAlive, dlHeaders, dlEarly: what is on the wrapped Conn
	bound   uint8  // what ourDL stands for: byTimer, or a bound of the server's (Conn.Bound)
	ourDL   int64  // that deadline, kept as deadlines are (nanos)
	pub     int64  // the body count last published
	start   int64  // the accept; once a head ended, the start of the wait, then of the head (nanos)
	err     error  // every read fails with it

	// Shared with the goroutines that set deadlines or hijack.
	timing  atomic.Bool  // the Conn's deadline is on the wrapped Conn
	watch   atomic.Bool  // the Conn may have to give the server's deadline back
	pass    atomic.Bool  // no more following: everything passes through
	fresh   atomic.Bool  // no byte of the connection yet
	tls     atomic.Bool  // a write deadline came before the first byte
	idleMS  int32        // the server's own bounds (Conn.Bound), in ms; 0 none
	userDL  atomic.Int64 // the read deadline last asked for (nanos); 0 none
	bodyN   atomic.Int64
	failed  atomic.Pointer[Error]
	claimed atomic.Bool // ClaimBodyError handed the body's decision out
	headMS  int32       // (idleMS's companion, here for the Conn's size)
	dls     [2]deadline // read and write deadlines, put on the Conn only when they must be

	// The connection's context values, which ConnContext put the Conn in:
	// how a hook given only the net.Conn (http.Server.ConnState) finds
	// what the other policies keep for the connection, without a table.
	vals *connctx.Values
}

// answerTimeout bounds the writing of an answer and the reading that follows
// it; drainLimit bounds the bytes read after an answer, read only so that
// closing does not reset the connection before the client has read it.
const (
	answerTimeout = time.Second
	drainLimit    = 64 << 10
)

// Read reads the next bytes of the connection for net/http, following the
// requests in them. It never hands over bytes of two requests in one call,
// so that the server asks for the next request's bytes only once it is done
// with the previous one. See the package documentation.
func (c *Conn) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.pass.Load() {
		return c.readPass(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if c.await {
		if len(b) == 1 && !c.held {
			return c.background(b)
		}
		// The server starts reading the next request: the previous
		// response is out.
		c.await = false
		c.inHead = true
	}
	if c.sp < c.se {
		from := c.sp
		if c.held {
			from--
		}
		src := c.stash[from:min(c.se, c.sp+len(b))]
		n, err := c.follow(src, b)
		if c.held {
			c.held = false
			if n--; n < 0 {
				n = 0
			}
		}
		copy(b, c.stash[c.sp:c.sp+n])
		c.sp += n
		return n, err
	}
	if c.held {
		c.held = false
		if _, err := c.follow(c.stash[c.sp-1:c.sp], b); err != nil {
			return 0, err
		}
	}
	if c.later != nil {
		err := c.later
		c.later = nil
		return 0, err
	}
	if c.inHead {
		if err := c.headDeadline(); err != nil {
			return 0, err
		}
	}
	n, err := c.read(b)
	for n == 0 && c.suspended(err) {
		n, err = c.read(b)
	}
	if n == 0 {
		return 0, c.readErr(b, err)
	}
	k, ferr := c.follow(b[:n], b)
	if ferr != nil || k == n {
		return k, ferr
	}
	if c.err == nil && !c.pass.Load() {
		// The request ended at k: keep the rest for the next read.
		c.stash = append(c.stash[:0], b[k:n]...)
		c.sp, c.se = 0, len(c.stash)
		c.later = err
	}
	return k, nil
}

// background serves net/http's background read, the one-byte read it makes
// while a handler runs, once the request's body is all read, to notice a
// client that goes away (connReader.backgroundRead). It gets the server's
// deadlines: the next request's timing starts when the server reads for it.
func (c *Conn) background(b []byte) (int, error) {
	if c.sp == c.se {
		if c.later != nil {
			err := c.later
			c.later = nil
			return 0, err
		}
		n, err := c.read(b)
		if n == 0 {
			return 0, err
		}
		c.stash = append(c.stash[:0], b[0])
		c.sp, c.se = 0, 1
	}
	// The byte is parsed with the rest of the request, when the server
	// reads for it: the request's line is then looked at in one piece.
	x := c.stash[c.sp]
	b[0] = x
	c.sp++
	c.held = true
	c.gotByte = c.p.skip == 0 || x != '\r' && x != '\n'
	return 1, nil
}

// follow feeds src, the next bytes for the server, to the parser, and
// returns how many of them the server gets: all, or those up to the end of
// the request. b is the server's buffer, for draining after an answer.
func (c *Conn) follow(src, b []byte) (int, error) {
	if !c.started {
		c.begin()
	}
	off := 0
	for {
		k, ev := c.p.feed(src[off:])
		off += k
		if !c.gotByte && c.p.st != stStart {
			c.gotByte = true
		}
		switch ev {
		case evMore:
			c.publish()
			return off, nil
		case evHead:
			c.endHead()
			c.publish()
		case evEnd:
			c.endHead()
			c.publish()
			c.await, c.gotByte = true, false
			return off, nil
		case evPass:
			c.toPass()
			return len(src), nil
		case evReject:
			return 0, c.answer(b)
		case evFail:
			c.publish()
			e := c.decide(c.p.why, c.p.lim, c.p.got, c.p.st == stTrailField)
			c.failed.Store(e)
			c.err = c.readError(e)
			if off > 0 {
				return off, nil
			}
			return 0, c.err
		}
	}
}

// begin notes the connection's first byte: it is not a TLS handshake (or
// the Conn stops following it before its next read), and the Conn gives the
// server its deadline back mid-head only where the Config switches the
// headers timer off.
func (c *Conn) begin() {
	c.started = true
	c.fresh.Store(false)
	c.watch.Store(c.timers.s.headers < 0)
}

// publish makes the body's count visible to BodyBytes.
func (c *Conn) publish() {
	if c.p.body != c.pub {
		c.pub = c.p.body
		c.bodyN.Store(c.pub)
	}
}

// headDeadline puts the right deadline on the wrapped connection before a
// read of the head: KeepAliveTimeout until the request's first byte, then
// RequestHeadersTimeout, each from when its wait began; or the server's own
// where the Config switches a timer off, and for the first byte of a
// connection whose server is starting a TLS handshake.
func (c *Conn) headDeadline() error {
	want, d := uint8(dlKeepAlive), c.timers.s.keepAlive
	if c.gotByte {
		want, d = dlHeaders, c.timers.s.headers
	}
	// The server's own deadline rules where the Config switches a timer
	// off, and for the first byte of a TLS handshake.
	if d < 0 || want == dlKeepAlive && c.tls.Load() {
		if c.dl == dlNone {
			return nil
		}
		c.dl = dlNone
		c.timing.Store(false)
		return c.setDeadline(rd, c.user())
	}
	if c.dl == want || c.dl == dlEarly && c.early() {
		return nil
	}
	var at int64
	var by uint8
	switch {
	case want == dlKeepAlive:
		at, by = c.waitDeadline(d)
	case c.dl == dlEarly:
		// The head's fourth byte came: the server's head bound starts now,
		// the timer still runs from the first byte.
		at, by = addNanos(c.start, d), byTimer
		sooner(&at, &by, now(), c.headMS, byHead)
	default:
		want, at, by = c.headStart(d)
	}
	c.dl, c.ourDL, c.bound = want, at, by
	c.timing.Store(true)
	return c.setDeadlineNanos(rd, c.ourDL)
}

// endHead hands the read deadline back to the server at the end of a head.
// The Conn's deadline stays on the wrapped connection: net/http sets its own
// right after every head it reads (conn.readRequest, for the body), and
// nothing reads in between.
func (c *Conn) endHead() {
	c.inHead, c.headed = false, true
	if c.dl != dlNone {
		c.dl = dlNone
		c.timing.Store(false)
	}
}

// toPass stops following the connection.
func (c *Conn) toPass() {
	c.pass.Store(true)
	c.inHead = false
	if c.dl != dlNone {
		c.dl = dlNone
		c.timing.Store(false)
		_ = c.setDeadline(rd, c.user())
	}
}

// readPass reads without following.
func (c *Conn) readPass(b []byte) (int, error) {
	if c.sp < c.se {
		n := copy(b, c.stash[c.sp:c.se])
		c.sp += n
		return n, nil
	}
	if c.later != nil {
		err := c.later
		c.later = nil
		return 0, err
	}
	return c.read(b)
}

// readErr looks at a failed read of the wrapped connection: a deadline of
// the Conn's own that passed is a keep-alive or request-headers timeout.
func (c *Conn) readErr(b []byte, err error) error {
	if !c.inHead || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if !c.gotByte && !c.tls.Load() {
		// The wait for a request's first byte: KeepAliveTimeout, or the
		// server's deadline where it is off.
		c.decide(ReasonKeepAliveTimeout, -1, -1, false)
		c.err = err
		return err
	}
	if c.dl != dlHeaders && c.dl != dlEarly || now() < c.ourDL {
		return err
	}
	c.p.why, c.p.lim, c.p.got = ReasonRequestHeadersTimeout, -1, -1
	return c.answer(b)
}

// decide counts a decision.
func (c *Conn) decide(why Reason, lim, got int64, trailer bool) *Error {
	e := &Error{Reason: why, Limit: lim, Size: got, Trailer: trailer, Addr: c.RemoteAddr()}
	if timerReason(why) {
		if c.dl != dlNone {
			e.Timer = c.timer()
		}
		c.timers.decide(e)
	} else {
		c.head.decide(e)
	}
	return e
}

// readError is the error reads fail with after e: net/http takes a read
// error for a connection gone (isCommonNetReadError) and closes it without
// writing anything.
func (c *Conn) readError(e *Error) error {
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: e.Addr, Err: e}
}

// answer writes the answer to the parser's decision on the head, closes the
// connection's write side, and reads what the client still sends for a
// moment, so that the client gets the answer rather than a reset. The error
// it returns, which every read returns from then on, makes net/http close
// the connection without writing anything.
func (c *Conn) answer(b []byte) error {
	c.err = c.readError(c.decide(c.p.why, c.p.lim, c.p.got, false))
	c.pass.Store(true)
	c.timing.Store(false)
	deadline := time.Now().Add(answerTimeout)
	_ = c.setDeadline(wr, deadline)
	if _, err := c.Write(responses[c.p.why]); err != nil {
		return c.err
	}
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return c.err
	}
	_ = c.setDeadline(rd, deadline)
	if len(b) < 512 {
		b = make([]byte, 512)
	}
	for total := 0; total < drainLimit; {
		n, err := c.read(b)
		total += n
		if err != nil {
			break
		}
	}
	return c.err
}

// user returns the read deadline the server or a handler last asked for.
func (c *Conn) user() time.Time {
	return fromNanos(c.userDL.Load())
}

// SetReadDeadline sets the read deadline as net/http or a handler asks,
// except while the Conn times a head: it is then kept, and the wrapped
// connection gets it back if the Conn stops timing before net/http sets
// another.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.timing.Load() {
		c.userDL.Store(nanos(t))
		return nil
	}
	if c.watch.Load() {
		c.userDL.Store(nanos(t))
	}
	return c.setDeadline(rd, t)
}

// SetWriteDeadline sets the write deadline. One set before the connection's
// first byte means the server is starting a TLS handshake (net/http sets
// both deadlines for it, and only the read deadline before a plaintext
// request): the first byte's wait is then the server's.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() && c.fresh.Load() {
		c.tls.Store(true)
	}
	return c.setDeadline(wr, t)
}

// SetDeadline sets both deadlines. net/http calls it only when a handler
// hijacks the connection, so the Conn stops following the connection, as
// [Conn.Hijacked] does.
func (c *Conn) SetDeadline(t time.Time) error {
	c.Hijacked()
	c.userDL.Store(nanos(t))
	rerr := c.setDeadline(rd, t)
	if err := c.setDeadline(wr, t); err != nil {
		return err
	}
	return rerr
}

// Hijacked tells the Conn that a handler took the connection over (an
// upgrade, a CONNECT tunnel): it stops following it and passes every byte
// and deadline through. It is safe to call from any goroutine, more than
// once.
func (c *Conn) Hijacked() {
	c.pass.Store(true)
	c.timing.Store(false)
}

// Tracking reports whether the Conn still follows the connection's HTTP/1
// requests: false after a TLS handshake, the HTTP/2 preface, a hijack, a
// head net/http refuses, or an answer.
func (c *Conn) Tracking() bool { return !c.pass.Load() }

// BodyBytes returns the bytes of the current request's body that the server
// has read from the connection, counted as Kestrel counts them toward
// MaxRequestBodySize: a chunked body's chunk-size lines, extensions and CRLFs
// included, its trailers not (they count as header fields). It includes what
// net/http's reader holds ahead of the handler (at most its 4 KiB buffer),
// as Kestrel's count includes what its body pump has read ahead. The count
// starts at zero when a request's head ends, and keeps the last request's
// value until the next head ends. It is safe to call from any goroutine.
func (c *Conn) BodyBytes() int64 { return c.bodyN.Load() }

// BodyError returns the decision that failed the current request's body
// reads, or nil. net/http may report such a failure with an error of its own
// (reading trailers, it reports any read error as "suspiciously long
// trailer"), so a body reader that gets an error asks here why. It is safe to
// call from any goroutine.
func (c *Conn) BodyError() *Error { return c.failed.Load() }

// ClaimBodyError returns the decision that failed the current request's
// body, as [Conn.BodyError] does, to its first caller only, and nil to every
// other: the body's reader that reports the decision with its request and
// the connection's closer that reports it without one (a body net/http read
// after the handler) each call it, and the decision is reported once. It is
// safe to call from any goroutine.
func (c *Conn) ClaimBodyError() *Error {
	e := c.failed.Load()
	if e == nil || !c.claimed.CompareAndSwap(false, true) {
		return nil
	}
	return e
}

// HeadWire returns the Wire that applies the head's part (PartHead) to the
// connection, the one that counts its decisions: the Wire that made c, or
// one that joined it for that part; nil if no Wire applies it. A package
// that owns a Wire asks it to know whether the Conn measured the request
// heads with that Wire's limits. It is safe to call once the server reads
// from c.
func (c *Conn) HeadWire() *Wire {
	if c.head.parts&PartHead == 0 {
		return nil
	}
	return c.head
}

// NetConn returns the wrapped connection, as tls.Conn's method of that name
// does. Its deadlines are the Conn's to set: one set on it directly may
// outlast what the Conn believes is there.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// writerOnly hides a writer's ReadFrom so that io.Copy does not call back.
type writerOnly struct{ io.Writer }

// errNoCloseWrite is CloseWrite's error for a connection that cannot
// half-close.
var errNoCloseWrite = errors.New("windhover/h1wire: connection cannot half-close")

// CloseWrite half-closes the wrapped connection, as net/http does before
// closing so that the client reads the last response instead of a reset.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// ConnContext returns ctx with the [*Conn] found among c's layers, for
// [FromContext]; it has the shape of http.Server.ConnContext, to be chained
// into it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if wc, ok := netconn.Find[*Conn](c); ok {
		ctx = connctx.With(ctx, connctx.Wire, wc)
		wc.vals = connctx.Of(ctx)
	}
	return ctx
}

// ValuesOf returns the context values of the connection c, if a [*Conn] is
// among its layers and [ConnContext] put it into them; nil otherwise. The
// values hold what the policies whose ConnContext hooks came after
// ConnContext's, and shared its values, keep for the connection.
func ValuesOf(c net.Conn) *connctx.Values {
	if wc, ok := netconn.Find[*Conn](c); ok {
		return wc.vals
	}
	return nil
}

// FromContext returns the Conn that [ConnContext] put into ctx (a request's
// context), or nil.
func FromContext(ctx context.Context) *Conn {
	wc, _ := connctx.Get(ctx, connctx.Wire).(*Conn)
	return wc
}
