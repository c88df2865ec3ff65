package limits

import (
	"cmp"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/peer"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/stripe"
	"golang.org/x/time/rate"
)

// DefaultPolicyName names the quota policy in the RateLimit fields when
// RateConfig.PolicyName is empty.
const DefaultPolicyName = "default"

// RateConfig configures a [RateLimiter]: a token bucket per client, after
// ASP.NET Core's rate limiting middleware with a token bucket partitioned by
// client. Rate is required; every other zero field is a default.
type RateConfig struct {
	// Rate is the sustained rate a key may make requests at, in requests a
	// second: its bucket gains one token every 1/Rate (rate.Every converts
	// an interval). It must be positive and finite, and fill the bucket
	// within a century.
	Rate rate.Limit

	// Burst is the bucket's size: the most requests a key may make at once
	// after a pause. Zero means Rate rounded up, at least 1 (a second's
	// worth); negative is an error.
	Burst int

	// Key, if set, returns the key whose bucket r draws from, instead of the
	// client's address: an API key, a user, a route and a client. Every
	// string is a key, the empty one included, so requests for which Key
	// finds nothing share one bucket rather than escape the limit. It must
	// be safe for concurrent use. [RateLimiter.ClientKey] is the default
	// key, for a Key that falls back on it.
	Key func(r *http.Request) string

	// TrustedProxies lists the proxies whose forwarding header is believed:
	// IP addresses ("192.0.2.10"), CIDR prefixes ("10.0.0.0/8") and "unix"
	// for every peer on a Unix socket. Empty, the default, trusts none, and
	// the client is the immediate peer: the IP address of RemoteAddr, or one
	// key for all Unix-socket peers (a Key can tell them apart, by the peer
	// credentials from the unixsock package, say).
	//
	// When the immediate peer is trusted, ForwardedHeader is read from its
	// last element to its first: each element that is an IP address becomes
	// the client, and the walk goes on while that address is itself a
	// trusted proxy. It stops at the first address that is not trusted,
	// which is the client's; at an element that is not an address
	// (malformed, "unknown", obfuscated), keeping the last trusted address it
	// reached, so that such requests share that proxy's bucket rather than
	// pick their own; and after 32 trusted hops. A client cannot choose its
	// key by sending the header itself: what it wrote lies left of what the
	// proxies appended and is read only if every hop right of it is trusted.
	TrustedProxies []string

	// ForwardedHeader is the header field the trusted proxies set. The zero
	// value is X-Forwarded-For. Only the one named is read.
	ForwardedHeader ForwardedHeader

	// IPv4PrefixLen and IPv6PrefixLen group client addresses into networks
	// that share a bucket. Zero means one key per IPv4 address (32) and per
	// IPv6 /64 (64): a client given a /64 can use any address in it.
	// IPv4-mapped IPv6 addresses count as IPv4. Out of range (1 to 32, 1 to
	// 128) is an error.
	IPv4PrefixLen int
	IPv6PrefixLen int

	// Store keeps the buckets. Nil means a new [MemoryStore] holding at
	// most MaxKeys keys.
	Store Store

	// MaxKeys bounds the keys of the MemoryStore made when Store is nil.
	// Zero means [DefaultMaxKeys]; negative, or set with a Store, is an
	// error.
	MaxKeys int

	// PolicyName names the quota policy in the RateLimit and
	// RateLimit-Policy fields. Empty means [DefaultPolicyName]. It must be
	// printable ASCII.
	PolicyName string

	// HeadersOnAllowed also puts the RateLimit and RateLimit-Policy fields
	// on the responses to allowed requests, not only on 429s. It costs two
	// header fields and a few allocations a request.
	HeadersOnAllowed bool

	// OnReject, if set, is called for each request turned away, with an
	// [*Error], before the client is answered. It must be quick and safe for
	// concurrent use.
	OnReject func(r *http.Request, err error)
}

// RateLimiter limits the rate of requests per client (or per key) with a
// token bucket each, kept in a [Store]. A RateLimiter is safe for concurrent
// use.
type RateLimiter struct {
	q                Quota
	key              func(*http.Request) string
	client           clientAddr
	store            Store
	mem              *MemoryStore // store, when it is one: the allocation-free path
	policy           string       // the RateLimit-Policy field value
	item             string       // the policy name as a structured-field string
	headersOnAllowed bool
	refusals
}

// NewRateLimiter returns a RateLimiter for cfg, or an error naming the first
// invalid field.
func NewRateLimiter(cfg RateConfig) (*RateLimiter, error) {
	const name = "RateConfig"
	q := Quota{Rate: cfg.Rate, Burst: cfg.Burst}
	if q.Burst == 0 && q.Rate > 0 {
		q.Burst = int(min(max(1, math.Ceil(float64(q.Rate))), math.MaxInt32))
	}
	switch {
	case !(q.Rate > 0 && q.Rate != rate.Inf):
		return nil, configError(name, "Rate", cfg.Rate, "must be positive and finite")
	case q.Burst <= 0:
		return nil, configError(name, "Burst", cfg.Burst, "must not be negative (0 means Rate, rounded up)")
	case !q.valid():
		return nil, configError(name, "Rate", cfg.Rate, "is too slow: the bucket would take over a century to fill")
	case cfg.ForwardedHeader > HeaderForwarded:
		return nil, configError(name, "ForwardedHeader", cfg.ForwardedHeader, "is not HeaderXForwardedFor or HeaderForwarded")
	case cfg.IPv4PrefixLen < 0 || cfg.IPv4PrefixLen > 32:
		return nil, configError(name, "IPv4PrefixLen", cfg.IPv4PrefixLen, "must be between 1 and 32 (0 means 32)")
	case cfg.IPv6PrefixLen < 0 || cfg.IPv6PrefixLen > 128:
		return nil, configError(name, "IPv6PrefixLen", cfg.IPv6PrefixLen, "must be between 1 and 128 (0 means 64)")
	case cfg.MaxKeys < 0:
		return nil, configError(name, "MaxKeys", cfg.MaxKeys, "must not be negative (0 means DefaultMaxKeys)")
	case cfg.MaxKeys != 0 && cfg.Store != nil:
		return nil, configError(name, "MaxKeys", cfg.MaxKeys, "applies only to the MemoryStore made when Store is nil")
	}
	trusted, err := peer.Parse(cfg.TrustedProxies)
	if err != nil {
		return nil, configError(name, "TrustedProxies", cfg.TrustedProxies, "is invalid: "+err.Error())
	}
	item, ok := sfString(cmp.Or(cfg.PolicyName, DefaultPolicyName))
	if !ok {
		return nil, configError(name, "PolicyName", strconv.Quote(cfg.PolicyName), "must be printable ASCII")
	}
	l := &RateLimiter{
		q:   q,
		key: cfg.Key,
		client: clientAddr{
			trusted:   trusted,
			field:     cfg.ForwardedHeader.String(),
			forwarded: cfg.ForwardedHeader == HeaderForwarded,
			v4:        orDefault(cfg.IPv4PrefixLen, DefaultIPv4PrefixLen),
			v6:        orDefault(cfg.IPv6PrefixLen, DefaultIPv6PrefixLen),
		},
		store:            cfg.Store,
		item:             item,
		headersOnAllowed: cfg.HeadersOnAllowed,
	}
	l.onReject = cfg.OnReject
	// The policy: Burst requests in the time an empty bucket takes to fill,
	// which at Rate is exactly what the bucket lets through in that window
	// when it starts empty, and never more than twice that when it starts
	// full.
	l.policy = item + ";q=" + strconv.Itoa(q.Burst) + ";w=" + strconv.FormatInt(max(1, ceilSeconds(q.fillTime())), 10)
	if l.store == nil {
		l.store = NewMemoryStore(cfg.MaxKeys)
	}
	l.mem, _ = l.store.(*MemoryStore)
	return l, nil
}

// MaxRequestRate returns a RateLimiter that lets each client address make
// requests at r a second, in bursts of at most burst, with every other
// default: no trusted proxies, a MemoryStore of DefaultMaxKeys keys. It
// panics if r or burst is invalid, as NewRateLimiter would report.
func MaxRequestRate(r rate.Limit, burst int) *RateLimiter {
	return must(NewRateLimiter(RateConfig{Rate: r, Burst: burst}))
}

// Handler returns next behind l. A request whose key has a token left takes
// it and reaches next unchanged; with the in-memory store and the default
// key this allocates nothing. Any other gets 429 Too Many Requests with
//
//	Retry-After: 3
//	RateLimit-Policy: "default";q=20;w=2
//	RateLimit: "default";r=0;t=3
//
// where Retry-After is how long until a token is available, in whole seconds
// rounded up (never earlier than the RateLimit field's t, as the draft asks);
// the policy gives the bucket's size as the quota q and its fill time as the
// window w; the connection stays open. A request the Store fails to decide
// on gets 503. With HeadersOnAllowed, allowed responses carry the same two
// RateLimit fields, r being the whole tokens left and t the seconds until
// the bucket is full.
//
// The RateLimit fields follow draft-ietf-httpapi-ratelimit-headers-11's
// structured-field form.
//
// An "OPTIONS *" request takes a token like any other, and is answered 200
// here, as net/http's own handler would, when next is not one of windhover's
// handlers: the application never sees it (see [Limiter.Handler]).
func (l *RateLimiter) Handler(next http.Handler) http.Handler {
	return &rateHandler{l: l, next: next, last: star.Last(next)}
}

type rateHandler struct {
	l     *RateLimiter
	next  http.Handler
	last  bool // next is none of windhover's handlers: answer "OPTIONS *" here
	share bool // decide at the composition's arrival time, in its cell: clock.Share
	guard star.Guard
}

// ShareReadings makes the handler decide at the time the handler directly
// outside it read on the request's arrival, when that one shares it, and
// take the MemoryStore's read lock its counter cell picks (see
// clock.Readings). Only a composition that knows nothing between the two
// waits can call it.
func (h *rateHandler) ShareReadings(clock.Trust) { h.share = true }

// HandlesOptionsStar marks the handler as one of windhover's.
func (*rateHandler) HandlesOptionsStar() {}

func (h *rateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "limits")
	l := h.l
	var at reading
	if h.share {
		if p := rw.Own(w); p != nil {
			at = reading{ns: p.Arrived, cell: p.Cell}
		}
	}
	if at.ns == 0 {
		at = readNow()
	}
	d, err := l.decide(r, at, l.headersOnAllowed)
	if err != nil {
		l.reject(r, err)
		if err.Reason == ReasonRateLimited {
			l.setHeaders(w.Header(), 0, err.RetryAfter)
		}
		writeTooBusy(w, r, err.Reason.Status(), retryValue(err.RetryAfter))
		return
	}
	if l.headersOnAllowed {
		l.setHeaders(w.Header(), d.Remaining, d.Reset)
	}
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// Check takes a token for r from its key's bucket, and returns an [*Error]
// if none was left (ReasonRateLimited, with the RetryAfter to announce) or
// the Store failed (ReasonRateStoreFailed), counted and reported to OnReject
// as the Handler would. It is for callers that answer refusals themselves.
func (l *RateLimiter) Check(r *http.Request) error {
	if _, err := l.decide(r, readNow(), false); err != nil {
		l.reject(r, err)
		return err
	}
	return nil
}

// ClientKey returns the key the RateLimiter gives r when RateConfig.Key is
// nil: its client's address found through the trusted proxies, or the
// client's network in CIDR notation ("2001:db8:1:2::/64") when grouped by a
// shorter prefix; "unix" for an untrusted Unix-socket peer; "unknown" if
// RemoteAddr holds no IP address.
func (l *RateLimiter) ClientKey(r *http.Request) string { return l.client.key(r) }

// reading is when a request is decided, as clock.Nanos reads it, and the
// counter cell (stripe.Here) read with it, which picks the MemoryStore's
// read lock.
type reading struct {
	ns   int64
	cell int
}

// readNow reads the clock and the cell.
func readNow() reading { return reading{ns: clock.Nanos(), cell: stripe.Here()} }

// decide takes a token for r at at. Unless detail is set, an allowed request
// gets a Decision that says only so. at is a fresh reading, or the one an
// outer policy made as the request came where the composition knows that
// nothing between them waits (a queue, a call to an authentication service
// would make it stale): see ShareReadings.
func (l *RateLimiter) decide(r *http.Request, at reading, detail bool) (Decision, *Error) {
	var d Decision
	var key string
	switch {
	case l.key == nil && l.mem != nil:
		d = l.mem.take(l.client.memKey(r), l.q, clock.UnixNanos(at.ns), detail, at.cell)
	case l.mem != nil:
		key = l.key(r)
		d = l.mem.take(memKey{s: key}, l.q, clock.UnixNanos(at.ns), detail, at.cell)
	default:
		if l.key != nil {
			key = l.key(r)
		} else {
			key = l.ClientKey(r)
		}
		var err error
		if d, err = l.store.Allow(r.Context(), key, l.q, clock.At(at.ns)); err != nil {
			return d, &Error{Reason: ReasonRateStoreFailed, Limit: int64(l.q.Burst), Size: -1, Err: err, Key: key}
		}
	}
	if d.Allowed {
		return d, nil
	}
	if key == "" && l.key == nil {
		key = l.ClientKey(r)
	}
	ra, _ := retryAfter(d.RetryAfter)
	return d, &Error{Reason: ReasonRateLimited, Limit: int64(l.q.Burst), Size: -1, RetryAfter: ra, Key: key}
}

// setHeaders puts the RateLimit-Policy and RateLimit fields on h, for a
// bucket with remaining tokens, full again (or, refused, holding a token)
// after t.
func (l *RateLimiter) setHeaders(h http.Header, remaining int, t time.Duration) {
	h.Set("RateLimit-Policy", l.policy)
	h.Set("RateLimit", l.item+";r="+strconv.Itoa(remaining)+";t="+strconv.FormatInt(ceilSeconds(t), 10))
}

func retryValue(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatInt(ceilSeconds(d), 10)
}

// RateStats is a snapshot of a RateLimiter's counters.
type RateStats struct {
	// Keys is the number of keys the in-memory store tracks, or -1 for
	// another Store.
	Keys int
	// Evictions counts the keys the in-memory store evicted to make room
	// for new ones.
	Evictions uint64
	// Rejected counts the requests turned away, indexed by [Reason]:
	// ReasonRateLimited and ReasonRateStoreFailed.
	Rejected [NumReasons]uint64
}

// RejectedTotal is the sum of Rejected.
func (s RateStats) RejectedTotal() uint64 { return sum(&s.Rejected) }

// Stats returns a snapshot of l's counters. Each counter is read atomically;
// the snapshot as a whole is not a single instant.
func (l *RateLimiter) Stats() RateStats {
	s := RateStats{Keys: -1, Rejected: l.counts()}
	if l.mem != nil {
		s.Keys, s.Evictions = l.mem.Len(), l.mem.Evictions()
	}
	return s
}

// sfString returns s as a structured-field string (RFC 9651), reporting
// false if s has a character one cannot hold.
func sfString(s string) (string, bool) {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' {
			return "", false
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), true
}
