package limits

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/star"
)

// Defaults of a [ConcurrencyConfig]. ASP.NET Core's concurrency limiter lets
// a request wait until its client gives up; a bounded wait is windhover's
// choice, so that a saturated server sheds load instead of holding requests.
const (
	// DefaultRequestQueueTimeout is how long a queued request waits for a
	// slot when RequestQueueTimeout is zero.
	DefaultRequestQueueTimeout = 5 * time.Second
	// DefaultConcurrencyRetryAfter is the Retry-After sent with a 503 when
	// ConcurrencyConfig.RetryAfter is zero.
	DefaultConcurrencyRetryAfter = time.Second
)

// QueueOrder says which queued request gets the next free slot, as ASP.NET
// Core's QueueProcessingOrder does.
type QueueOrder uint8

const (
	// QueueOldestFirst serves the queue in arrival order, and turns away a
	// request that finds it full.
	QueueOldestFirst QueueOrder = iota
	// QueueNewestFirst serves the most recent request first, and makes room
	// for a request that finds the queue full by turning away the oldest
	// one. Under sustained overload the requests served are the fresh ones,
	// whose clients are still waiting, rather than those about to time out.
	QueueNewestFirst
)

// String returns "oldest_first" or "newest_first".
func (o QueueOrder) String() string {
	switch o {
	case QueueOldestFirst:
		return "oldest_first"
	case QueueNewestFirst:
		return "newest_first"
	}
	return fmt.Sprintf("QueueOrder(%d)", uint8(o))
}

// ConcurrencyConfig configures a [ConcurrencyLimiter], after ASP.NET Core's
// concurrency limiter (ConcurrencyLimiterOptions). The zero value counts the
// requests in the handler without limiting them.
type ConcurrencyConfig struct {
	// MaxConcurrentRequests is the most requests in the handler at once.
	// Zero means no limit (requests are still counted); negative is an
	// error.
	MaxConcurrentRequests int

	// RequestQueueLimit lets up to this many more requests wait for a slot.
	// Zero means no queue: a request over MaxConcurrentRequests gets 503 at
	// once. Negative is an error, and so is a queue without
	// MaxConcurrentRequests.
	RequestQueueLimit int

	// QueueOrder says which queued request a freed slot goes to. The zero
	// value is ASP.NET Core's default, oldest first.
	QueueOrder QueueOrder

	// RequestQueueTimeout is the longest a request waits in the queue before
	// it gets 503. Zero means [DefaultRequestQueueTimeout]; negative is an
	// error.
	RequestQueueTimeout time.Duration

	// RetryAfter is sent, in whole seconds rounded up, as the Retry-After
	// field of every 503. Zero means [DefaultConcurrencyRetryAfter];
	// negative sends none.
	RetryAfter time.Duration

	// OnReject, if set, is called for each request turned away, with an
	// [*Error], before the client is answered. It must be quick and safe for
	// concurrent use.
	OnReject func(r *http.Request, err error)
}

// ConcurrencyLimiter bounds the requests in a handler at once, with a queue
// for those that find every slot taken. A ConcurrencyLimiter is safe for
// concurrent use; one limiter may guard several handlers, which then share
// its slots and queue.
type ConcurrencyLimiter struct {
	max        int64
	queueLimit int
	order      QueueOrder
	timeout    time.Duration
	retryAfter time.Duration // as announced: whole seconds, or 0 for none
	retryValue string        // the Retry-After field value, or ""

	// slots counts the requests holding a slot and, in waitingBit, whether
	// any request is queued. While none is, a request takes and gives back
	// its slot with one compare-and-swap, without mu. While one is, slots
	// compares at or over max, so no newcomer takes a slot, and only mu's
	// holder changes it: a released slot goes to a waiter.
	slots  atomic.Int64
	mu     sync.Mutex
	queue  waitQueue // waitingBit is set exactly while it holds a waiter
	queued atomic.Int64
	refusals
}

// waitingBit is the bit of ConcurrencyLimiter.slots that says a request is
// queued: above any max, so that one comparison tells both a full limiter and
// a queue that must be served first.
const waitingBit = 1 << 62

// NewConcurrencyLimiter returns a ConcurrencyLimiter for cfg, or an error
// naming the first invalid field.
func NewConcurrencyLimiter(cfg ConcurrencyConfig) (*ConcurrencyLimiter, error) {
	const name = "ConcurrencyConfig"
	switch {
	case cfg.MaxConcurrentRequests < 0:
		return nil, configError(name, "MaxConcurrentRequests", cfg.MaxConcurrentRequests, "must not be negative (0 means no limit)")
	case cfg.RequestQueueLimit < 0:
		return nil, configError(name, "RequestQueueLimit", cfg.RequestQueueLimit, "must not be negative (0 means no queue)")
	case cfg.RequestQueueLimit > 0 && cfg.MaxConcurrentRequests == 0:
		return nil, configError(name, "RequestQueueLimit", cfg.RequestQueueLimit, "needs a MaxConcurrentRequests to queue for")
	case cfg.QueueOrder > QueueNewestFirst:
		return nil, configError(name, "QueueOrder", cfg.QueueOrder, "is not QueueOldestFirst or QueueNewestFirst")
	case cfg.RequestQueueTimeout < 0:
		return nil, configError(name, "RequestQueueTimeout", cfg.RequestQueueTimeout, "must not be negative")
	}
	c := &ConcurrencyLimiter{
		max:        min(int64(cfg.MaxConcurrentRequests), waitingBit-1),
		queueLimit: cfg.RequestQueueLimit,
		order:      cfg.QueueOrder,
		timeout:    orDefault(cfg.RequestQueueTimeout, DefaultRequestQueueTimeout),
	}
	c.onReject = cfg.OnReject
	if ra := orDefault(cfg.RetryAfter, DefaultConcurrencyRetryAfter); ra > 0 {
		c.retryAfter, c.retryValue = retryAfter(ra)
	}
	return c, nil
}

// MaxConcurrentRequests returns a ConcurrencyLimiter that lets n requests in
// its handler at once and answers 503 to any more, without a queue. It panics
// if n is negative; zero means no limit (requests are still counted).
func MaxConcurrentRequests(n int) *ConcurrencyLimiter {
	return must(NewConcurrencyLimiter(ConcurrencyConfig{MaxConcurrentRequests: n}))
}

// Handler returns next behind c. A request that finds a slot free (and
// nobody queued) runs at once and holds the slot until next returns. Any
// other waits in the queue, if there is room, until a slot is handed to it,
// RequestQueueTimeout passes, or its context ends (over HTTP/2 when the
// client resets the stream, over HTTP/1 when the client closes the connection
// and the request has no unread body, net/http's signal); it leaves the
// queue at once in all three cases. A request turned away gets 503 with
// Retry-After and the connection stays open.
//
// An HTTP/1 upgrade request (a WebSocket handshake, say) gives its slot back
// when its handler hijacks the connection: from then on it is a connection,
// bounded by MaxConcurrentUpgradedConnections, no longer a request. Its
// ResponseWriter is wrapped for that, keeping every optional interface of the
// original and an Unwrap method. An HTTP/2 extended CONNECT has no hijack and
// holds its slot until its handler returns. Other requests reach next
// unchanged, without allocating.
//
// An "OPTIONS *" request takes a slot like any other, and is answered 200
// here, as net/http's own handler would, when next is not one of windhover's
// handlers: the application never sees it (see [Limiter.Handler]).
func (c *ConcurrencyLimiter) Handler(next http.Handler) http.Handler {
	return &concurrencyHandler{c: c, next: next, last: star.Last(next)}
}

type concurrencyHandler struct {
	c     *ConcurrencyLimiter
	next  http.Handler
	last  bool // next is none of windhover's handlers: answer "OPTIONS *" here
	guard star.Guard
}

// HandlesOptionsStar marks the handler as one of windhover's.
func (*concurrencyHandler) HandlesOptionsStar() {}

func (h *concurrencyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "limits")
	c := h.c
	if err := c.acquire(r); err != nil {
		c.reject(r, err)
		writeTooBusy(w, r, err.Reason.Status(), c.retryValue)
		return
	}
	if r.ProtoMajor == 1 && isUpgrade(r) {
		s := &slotRequest{c: c}
		defer s.release()
		s.w.Reset(w, s)
		h.serveNext(s.w.ResponseWriter(), r)
		return
	}
	defer c.release()
	h.serveNext(w, r)
}

// serveNext hands r to next, or answers it if it is an "OPTIONS *" that
// would otherwise leave windhover's handlers.
func (h *concurrencyHandler) serveNext(w http.ResponseWriter, r *http.Request) {
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// slotRequest is an upgrade request holding a slot until it returns or
// hijacks its connection.
type slotRequest struct {
	rw.NopHooks
	w        rw.Writer
	c        *ConcurrencyLimiter
	released atomic.Bool
}

// Hijacked gives the slot back: the connection is no longer a request.
func (s *slotRequest) Hijacked(conn net.Conn) net.Conn {
	s.release()
	return conn
}

func (s *slotRequest) release() {
	if s.released.CompareAndSwap(false, true) {
		s.c.release()
	}
}

// acquire takes a slot for r, waiting in the queue if need be, or returns
// why it could not.
func (c *ConcurrencyLimiter) acquire(r *http.Request) *Error {
	if c.max == 0 {
		c.slots.Add(1)
		return nil
	}
	for s := c.slots.Load(); s < c.max; s = c.slots.Load() {
		if c.slots.CompareAndSwap(s, s+1) {
			return nil
		}
	}
	if c.queueLimit == 0 {
		return c.refusal(ReasonConcurrencyLimit, nil)
	}
	c.mu.Lock()
	for {
		// Only mu's holder sets or clears the waiting bit, but until it
		// is set a slot freed without mu can still make room.
		s := c.slots.Load()
		if s < c.max {
			if c.slots.CompareAndSwap(s, s+1) {
				c.mu.Unlock()
				return nil
			}
		} else if s&waitingBit != 0 || c.slots.CompareAndSwap(s, s|waitingBit) {
			break
		}
	}
	if c.queue.len >= c.queueLimit {
		if c.order == QueueOldestFirst {
			c.mu.Unlock()
			return c.refusal(ReasonRequestQueueFull, nil)
		}
		// Its place goes to w at once: the waiting bit stays.
		oldest := c.queue.head
		c.queue.remove(oldest)
		c.queued.Add(-1)
		oldest.state = waiterPushedOut
		oldest.wake()
	}
	w := getWaiter()
	c.queue.pushBack(w)
	c.queued.Add(1)
	c.mu.Unlock()
	return c.wait(r.Context(), w)
}

// wait waits for w, queued, to be handed a slot.
func (c *ConcurrencyLimiter) wait(ctx context.Context, w *waiter) *Error {
	w.timer.Reset(c.timeout)
	reason, cause := ReasonRequestQueueTimeout, error(nil)
	select {
	case <-w.ready:
	case <-w.timer.C:
	case <-ctx.Done():
		reason, cause = ReasonRequestQueueCanceled, context.Cause(ctx)
	}
	w.timer.Stop()
	c.mu.Lock()
	state := w.state
	if state == waiterQueued {
		c.dequeued(w)
	} else {
		// Woken under the mutex, so its value is in ready unless the select
		// took it.
		select {
		case <-w.ready:
		default:
		}
	}
	c.mu.Unlock()
	putWaiter(w)
	switch state {
	case waiterGranted:
		// The slot is taken even if the wait also ended: the handler sees
		// a done context and can return at once.
		return nil
	case waiterPushedOut:
		return c.refusal(ReasonRequestQueueFull, nil)
	}
	return c.refusal(reason, cause)
}

// dequeued takes w out of the queue, and clears the waiting bit if it was
// the last waiter. Call it with mu held.
func (c *ConcurrencyLimiter) dequeued(w *waiter) {
	c.queue.remove(w)
	c.queued.Add(-1)
	if c.queue.len == 0 {
		c.slots.Add(-waitingBit)
	}
}

// release gives a slot back, handing it straight to the next waiter if any,
// so that no newcomer can take it first.
func (c *ConcurrencyLimiter) release() {
	if c.max == 0 {
		c.slots.Add(-1)
		return
	}
	for s := c.slots.Load(); s&waitingBit == 0; s = c.slots.Load() {
		if c.slots.CompareAndSwap(s, s-1) {
			return
		}
	}
	c.mu.Lock()
	next := c.queue.tail
	if c.order == QueueOldestFirst {
		next = c.queue.head
	}
	if next != nil {
		c.dequeued(next)
		next.state = waiterGranted
		next.wake()
	} else {
		// The last waiter left between the Load and the Lock.
		c.slots.Add(-1)
	}
	c.mu.Unlock()
}

func (c *ConcurrencyLimiter) refusal(reason Reason, cause error) *Error {
	return &Error{Reason: reason, Limit: c.max, Size: -1, Err: cause, RetryAfter: c.retryAfter}
}

// ConcurrencyStats is a snapshot of a ConcurrencyLimiter's counters.
type ConcurrencyStats struct {
	// ActiveRequests is the number of requests holding a slot.
	ActiveRequests int64
	// QueuedRequests is the number of requests waiting in the queue
	// (Kestrel's queued_requests).
	QueuedRequests int64
	// Rejected counts the requests turned away, indexed by [Reason]:
	// ReasonConcurrencyLimit and the ReasonRequestQueue ones.
	Rejected [NumReasons]uint64
}

// RejectedTotal is the sum of Rejected.
func (s ConcurrencyStats) RejectedTotal() uint64 { return sum(&s.Rejected) }

// Stats returns a snapshot of c's counters. Each counter is read atomically;
// the snapshot as a whole is not a single instant.
func (c *ConcurrencyLimiter) Stats() ConcurrencyStats {
	return ConcurrencyStats{ActiveRequests: c.slots.Load() &^ waitingBit, QueuedRequests: c.queued.Load(), Rejected: c.counts()}
}
