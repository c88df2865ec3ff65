package h1wire

import (
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/netconn"
)

// Kestrel's defaults, which the zero [Config] stands for.
const (
	DefaultMaxRequestLineSize         = 8192
	DefaultMaxRequestHeadersTotalSize = 32768
	DefaultMaxRequestHeaderCount      = 100
	DefaultKeepAliveTimeout           = 130 * time.Second
	DefaultRequestHeadersTimeout      = 30 * time.Second
)

// Config holds the limits and timers the wrapper applies, with Kestrel's
// meanings. The zero Config is Kestrel's defaults: an 8,192-byte request
// line, 100 field lines in 32,768 bytes, a 130 s keep-alive timeout and a
// 30 s request-headers timeout.
type Config struct {
	// MaxRequestLineSize bounds the request line in bytes, its CRLF
	// included: a line of MaxRequestLineSize-2 bytes and CRLF passes, one
	// more byte gets 414. Zero means 8,192; negative switches the check off.
	MaxRequestLineSize int

	// MaxRequestHeadersTotalSize bounds the header field lines in bytes,
	// each counted as sent, CRLF and any whitespace included; the blank line
	// that ends the head is free. A chunked body's trailers count toward the
	// same budget. Over it: 431. Zero means 32,768; negative switches the
	// check off.
	MaxRequestHeadersTotalSize int

	// MaxRequestHeaderCount bounds the number of field lines, Host and an
	// empty Host included, trailers included. Over it: 431. Zero means 100;
	// negative switches the check off.
	MaxRequestHeaderCount int

	// KeepAliveTimeout is how long a connection may wait for the first
	// byte of a request: from the connection's start, and from the moment
	// the server starts waiting for the next request after a response. A
	// connection that sends nothing is closed without an answer. Zero means
	// 130 s; negative leaves that wait to the server's own deadlines
	// (http.Server.ReadHeaderTimeout on a new connection, IdleTimeout
	// between requests).
	KeepAliveTimeout time.Duration

	// RequestHeadersTimeout is how long a request head may take from its
	// first byte to its blank line. Over it: 408 and close, also for a head
	// that stopped in the middle of a line. Zero means 30 s; negative leaves
	// the head to the server's own deadlines.
	RequestHeadersTimeout time.Duration

	// OnReject, if set, is called with each decision, before the client is
	// answered, on the goroutine reading the connection: it must be quick
	// and safe for concurrent use.
	OnReject func(*Error)

	// Suspended, if set, is asked when KeepAliveTimeout or
	// RequestHeadersTimeout runs out: while it reports true (a debugger is
	// attached, say) the timer is not enforced, and the Conn asks again
	// every [SuspendedRecheck]. A timer that ran out meanwhile is enforced
	// at the first asking that reports false, as Kestrel's heartbeat does
	// once its debugger is gone. It must be cheap and safe for concurrent
	// use.
	Suspended func() bool

	// Parts says what the Wire applies; zero means every part. A Wire
	// without PartHead leaves sizes, counts and Kestrel's checks on heads
	// off; one without PartTimers leaves the head's timing to the server.
	// Two Wires with different parts can follow one connection together,
	// see [Wire.Join].
	Parts Part
}

// Part is a share of what a Wire applies to a connection.
type Part uint8

const (
	// PartHead: MaxRequestLineSize, MaxRequestHeadersTotalSize,
	// MaxRequestHeaderCount and Kestrel's checks on a head (obsolete line
	// folding, Host, the target's form, the version), and the decisions on
	// a body's framing.
	PartHead Part = 1 << iota
	// PartTimers: KeepAliveTimeout and RequestHeadersTimeout.
	PartTimers

	allParts = PartHead | PartTimers
)

// timerReason reports whether a decision of that reason is PartTimers'.
func timerReason(r Reason) bool {
	return r == ReasonRequestHeadersTimeout || r == ReasonKeepAliveTimeout
}

// settings is a Config with its defaults filled in; a negative limit or
// timer is off.
type settings struct {
	line      int // the request line, CRLF included
	block     int // the header block, its blank line included: Kestrel's limit + 2
	fields    int
	keepAlive time.Duration
	headers   time.Duration
	checks    bool // Kestrel's checks on a head: obs-fold, Host, target, version
}

// Wire wraps connections with one configuration and counts, for all of
// them, what it decided. It is safe for concurrent use.
type Wire struct {
	s        settings
	parts    Part
	onReject func(*Error)
	suspend  func() bool
	closed   [numReasons]atomic.Uint64
}

// New returns a Wire applying cfg. Every Config is valid: zero fields take
// Kestrel's defaults and negative ones switch their check off.
func New(cfg Config) *Wire {
	s := settings{
		line:      orDefault(cfg.MaxRequestLineSize, DefaultMaxRequestLineSize),
		block:     orDefault(cfg.MaxRequestHeadersTotalSize, DefaultMaxRequestHeadersTotalSize),
		fields:    orDefault(cfg.MaxRequestHeaderCount, DefaultMaxRequestHeaderCount),
		keepAlive: cfg.KeepAliveTimeout,
		headers:   cfg.RequestHeadersTimeout,
		checks:    true,
	}
	if s.block >= 0 {
		// Kestrel lets the header block run 2 bytes past its limit, for the
		// blank line that ends it (Http1Connection's
		// _remainingRequestHeadersBytesAllowed).
		s.block = int(min(int64(s.block)+2, math.MaxInt32))
	}
	if s.keepAlive == 0 {
		s.keepAlive = DefaultKeepAliveTimeout
	}
	if s.headers == 0 {
		s.headers = DefaultRequestHeadersTimeout
	}
	parts := cfg.Parts & allParts
	if parts == 0 {
		parts = allParts
	}
	if parts&PartHead == 0 {
		s.line, s.block, s.fields, s.checks = -1, -1, -1, false
	}
	if parts&PartTimers == 0 {
		s.keepAlive, s.headers = -1, -1
	}
	return &Wire{s: s, parts: parts, onReject: cfg.OnReject, suspend: cfg.Suspended}
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// Conn wraps c, a plaintext connection just accepted (TCP or Unix), for an
// http.Server to serve. Call it from the listener's Accept, before the server
// reads anything from c.
func (w *Wire) Conn(c net.Conn) *Conn {
	wc := &Conn{Conn: c}
	wc.head, wc.timers = w, w
	wc.p.s = &w.s
	wc.p.fresh = true
	wc.p.st = stStart
	wc.fresh.Store(true)
	wc.watch.Store(true)
	wc.inHead = true
	wc.start = now()
	return wc
}

// Follow has w follow c, a connection just accepted: it joins the Conn of
// another Wire among c's layers (a listener stacked under this one made it)
// and returns c, or wraps c in a Conn of its own and returns that; either
// way with the Conn that follows c. One Conn then follows each connection,
// whatever the order of the listeners.
func (w *Wire) Follow(c net.Conn) (net.Conn, *Conn) {
	if wc, ok := netconn.Find[*Conn](c); ok {
		w.Join(wc)
		return c, wc
	}
	wc := w.Conn(c)
	return wc, wc
}

// Join adds w's parts to c, a Conn from another Wire, so that one Conn
// follows the connection for both: w's settings replace those of its parts
// in c, and w counts and reports the decisions of its parts. Call it before
// the server reads anything from c, from the goroutine that accepted it.
func (w *Wire) Join(c *Conn) {
	if w.parts&PartHead != 0 {
		c.head = w
		c.p.s = &w.s
	}
	if w.parts&PartTimers != 0 {
		c.timers = w
		c.watch.Store(true)
	}
}

// Stats is a snapshot of a Wire's counters.
type Stats struct {
	// Closed counts, per [Reason], the connections answered or closed and
	// the bodies failed.
	Closed [NumReasons]uint64
}

// Stats returns the counters. It is safe to call at any time.
func (w *Wire) Stats() Stats {
	var s Stats
	for i := range s.Closed {
		s.Closed[i] = w.closed[i].Load()
	}
	return s
}

// decide counts e and passes it to OnReject.
func (w *Wire) decide(e *Error) {
	w.closed[e.Reason].Add(1)
	if w.onReject != nil {
		w.onReject(e)
	}
}
