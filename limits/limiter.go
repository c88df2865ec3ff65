package limits

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/h1wire"
)

// Limiter enforces a [Config]: on connections through [Limiter.Listener] and
// [Limiter.Apply], on requests through [Limiter.Handler] and [Limiter.Check].
// One Limiter may serve several listeners and servers, which then share its
// connection and upgrade pools. A Limiter is safe for concurrent use.
type Limiter struct {
	s        settings
	policies policy
	conns    pool
	upgrades pool
	clients  *clientConns // MaxConnectionsPerClient; nil without it
	tracked  tracked
	accepted atomic.Uint64
	queued   atomic.Int64
	wire     *h1wire.Wire // measures HTTP/1 heads on the Listener's connections; nil without head limits
	inexact  atomic.Uint64
	warned   atomic.Bool // an inexact request was logged
	retired  [numRetireReasons]atomic.Uint64
	// warnedLifetime: a request came without a lifetime (no Apply).
	warnedLifetime atomic.Bool
	refusals
}

// policy says which parts of a Limiter act: all of them for [New], one for
// each single-limit constructor.
type policy uint8

const (
	connectionPolicy policy = 1 << iota
	upgradePolicy
	headPolicy
	bodyPolicy
	serverPolicy   // Apply sets MaxHeaderBytes and the HTTP/2 limits
	lifetimePolicy // MaxConnectionAge, MaxRequestsPerConnection
	allPolicies    = connectionPolicy | upgradePolicy | headPolicy | bodyPolicy | serverPolicy | lifetimePolicy
)

// tracked holds the connections of servers given to Apply whose listener is
// not a Limiter listener (http.Server.ListenAndServe, say).
type tracked struct {
	mu    sync.Mutex
	conns map[net.Conn]clientSlot
}

// New returns a Limiter for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Limiter, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	return newLimiter(s, allPolicies), nil
}

func newLimiter(s settings, p policy) *Limiter {
	l := &Limiter{s: s, policies: p}
	l.onReject = s.onReject
	l.conns.max = s.maxConns
	l.upgrades.max = s.maxUpgrades
	l.tracked.conns = make(map[net.Conn]clientSlot)
	if s.perClient > 0 {
		l.clients = newClientConns(s.perClient, s.clientV4, s.clientV6)
	}
	l.wire = l.newWire()
	return l
}

// only builds a Limiter that enforces one limit, panicking on a bad value:
// the single-limit constructors take a literal, so a bad one is a
// programmer's error.
func only(p policy, cfg Config) *Limiter {
	s := must(cfg.settings())
	if p&headPolicy == 0 {
		s.lineSize, s.headersSize, s.headerCount = -1, -1, -1
	}
	if p&bodyPolicy == 0 {
		s.bodySize = -1
	}
	return newLimiter(s, p)
}

// MaxConcurrentConnections returns a Limiter that only bounds open
// connections, closing those over n as Kestrel does. Use its Listener method,
// or Apply for a server whose listener you do not hold. It panics if n is
// negative; zero means no limit (connections are still counted).
func MaxConcurrentConnections(n int) *Limiter {
	return only(connectionPolicy, Config{MaxConcurrentConnections: n})
}

// MaxConnectionsPerClient returns a Limiter that only bounds the connections
// open at once from each client to n (see [Config.MaxConnectionsPerClient]),
// closing those over it as the connection limit does. Use its Listener
// method, or Apply for a server whose listener you do not hold. It panics if
// n is not positive.
func MaxConnectionsPerClient(n int) *Limiter {
	mustPositive("MaxConnectionsPerClient", n)
	return only(connectionPolicy, Config{MaxConnectionsPerClient: n})
}

// ConnectionLifetime returns a Limiter that only retires connections: after
// maxAge, or at their maxRequests-th request, each up to 10% less at random
// per connection (see [Config.MaxConnectionAge]). Zero leaves either
// unbounded. It needs both Apply, whose ConnContext starts each
// connection's lifetime, and its Handler, which closes the connection after
// the response of the request that reaches a limit. It panics if either is
// negative, or both are zero.
func ConnectionLifetime(maxAge time.Duration, maxRequests int) *Limiter {
	if maxAge == 0 && maxRequests == 0 {
		panic("limits: ConnectionLifetime needs a maximum age or a maximum number of requests")
	}
	return only(lifetimePolicy, Config{MaxConnectionAge: maxAge, MaxRequestsPerConnection: maxRequests})
}

// MaxConcurrentUpgradedConnections returns a Limiter that only bounds
// upgraded connections, through its Handler; n < 0 ([NoUpgrades]) refuses
// every upgrade and zero counts them without a limit.
func MaxConcurrentUpgradedConnections(n int) *Limiter {
	return only(upgradePolicy, Config{MaxConcurrentUpgradedConnections: n})
}

// MaxRequestLineSize returns a Limiter that only bounds the request line to n
// bytes, its CRLF included (414 over it), through its Handler or Check, and
// on the wire through its Listener (with Kestrel's refusals of malformed
// heads, see [Limiter.Listener]). It panics if n is not positive.
func MaxRequestLineSize(n int) *Limiter {
	mustPositive("MaxRequestLineSize", n)
	return only(headPolicy, Config{MaxRequestLineSize: n, MaxRequestHeadersTotalSize: -1, MaxRequestHeaderCount: -1})
}

// MaxRequestHeaders returns a Limiter that only bounds the header fields, to
// count fields in at most totalSize bytes (431 over either), through its
// Handler or Check, and on the wire through its Listener (with Kestrel's
// refusals of malformed heads, see [Limiter.Listener]). It panics if either
// is not positive.
func MaxRequestHeaders(count, totalSize int) *Limiter {
	mustPositive("MaxRequestHeaders count", count)
	mustPositive("MaxRequestHeaders totalSize", totalSize)
	return only(headPolicy, Config{MaxRequestLineSize: -1, MaxRequestHeadersTotalSize: totalSize, MaxRequestHeaderCount: count})
}

// MaxRequestBodySize returns a Limiter that only bounds request bodies to n
// bytes (413 over it), through its Handler; a negative n sets no limit but
// still lets handlers set one with [SetMaxRequestBodySize]. Unlike
// http.MaxBytesHandler it fails a declared Content-Length over the limit at
// the first Read, before any byte (and any "100 Continue"), answers 413
// itself when the handler did not, and lets a handler change the limit until
// it reads. Behind another limits handler (a route's limit behind a router
// under a global one) it replaces that handler's limit rather than adding a
// second: the innermost limit holds.
func MaxRequestBodySize(n int64) *Limiter {
	l := only(bodyPolicy, Config{})
	// Set directly: Config's zero would mean Kestrel's default, here it
	// means zero bytes.
	l.s.bodySize = literalBodyLimit(n)
	return l
}

// must returns v, or panics with err: the single-limit constructors take
// literals, so a bad one is a programmer's error.
func must[T any](v T, err error) T {
	if err != nil {
		panic("limits: " + err.Error())
	}
	return v
}

func mustPositive(what string, n int) {
	if n <= 0 {
		panic("limits: " + what + " must be positive")
	}
}

// Stats is a snapshot of a Limiter's counters.
type Stats struct {
	// ActiveConnections is the number of open connections holding a slot.
	ActiveConnections int64
	// UpgradedConnections is the number of upgrade slots in use.
	UpgradedConnections int64
	// QueuedConnections is the number of connections waiting in a queue.
	QueuedConnections int64
	// AcceptedConnections counts the connections ever given a slot.
	AcceptedConnections uint64
	// TrackedClients is the number of clients with a connection open, as
	// MaxConnectionsPerClient counts them (0 without that limit).
	TrackedClients int64
	// ConnectionsRetiredByAge and ConnectionsRetiredByRequests count the
	// connections asked to close (Connection: close, or an HTTP/2 GOAWAY)
	// because they reached their MaxConnectionAge or
	// MaxRequestsPerConnection. Retiring is not a refusal: no request is
	// turned away.
	ConnectionsRetiredByAge      uint64
	ConnectionsRetiredByRequests uint64
	// Rejected counts the refusals, indexed by [Reason].
	Rejected [NumReasons]uint64
	// InexactHTTP1Requests counts the plaintext HTTP/1 requests whose
	// request line and header fields the Handler (or Check) measured after
	// net/http's parse, because they did not come through l's
	// [Limiter.Listener], where they are measured as sent. The first is
	// also logged through log/slog.
	InexactHTTP1Requests uint64
}

// RejectedTotal is the sum of Rejected.
func (s Stats) RejectedTotal() uint64 { return sum(&s.Rejected) }

func sum(counts *[NumReasons]uint64) uint64 {
	var t uint64
	for _, n := range counts {
		t += n
	}
	return t
}

// refusals counts refusals by reason and reports each to an OnReject
// callback.
type refusals struct {
	rejected [numReasons]atomic.Uint64
	onReject func(*http.Request, error)
}

// reject counts a refusal and reports it to OnReject.
func (f *refusals) reject(r *http.Request, err *Error) {
	f.rejected[err.Reason].Add(1)
	if f.onReject != nil {
		f.onReject(r, err)
	}
}

// counts reads each counter.
func (f *refusals) counts() [NumReasons]uint64 {
	var c [NumReasons]uint64
	for i := range f.rejected {
		c[i] = f.rejected[i].Load()
	}
	return c
}

// Stats returns a snapshot of l's counters. Each counter is read atomically;
// the snapshot as a whole is not a single instant.
func (l *Limiter) Stats() Stats {
	s := Stats{
		ActiveConnections:            l.conns.inUse(),
		UpgradedConnections:          l.upgrades.inUse(),
		QueuedConnections:            l.queued.Load(),
		AcceptedConnections:          l.accepted.Load(),
		TrackedClients:               l.trackedClients(),
		ConnectionsRetiredByAge:      l.retired[retiredByAge].Load(),
		ConnectionsRetiredByRequests: l.retired[retiredByRequests].Load(),
		InexactHTTP1Requests:         l.inexact.Load(),
	}
	s.Rejected = l.counts()
	return s
}

func (l *Limiter) admit(c net.Conn, client clientSlot) net.Conn {
	l.accepted.Add(1)
	lc := &conn{Conn: c, l: l}
	if client.t != nil {
		// Apart, so that a connection without the limit, the usual case,
		// does not carry an empty slot (the wrapper is one of what each
		// idle connection holds).
		lc.client = new(clientSlot)
		*lc.client = client // not &client, which would move client to the heap on every call
	}
	return l.wrap(lc)
}

func (l *Limiter) trackedClients() int64 {
	if l.clients == nil {
		return 0
	}
	return l.clients.clients()
}

// holdClient takes a slot of c's client, for MaxConnectionsPerClient. It
// reports false if the client has none left; without the limit it holds
// nothing and reports true.
func (l *Limiter) holdClient(c net.Conn) (clientSlot, bool) {
	if l.clients == nil {
		return clientSlot{}, true
	}
	return l.clients.hold(l.clients.key(c))
}
