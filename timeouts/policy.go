package timeouts

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Kestrel's server timeouts, and windhover's bound on unsent bytes.
const (
	DefaultKeepAliveTimeout       = 130 * time.Second
	DefaultRequestHeadersTimeout  = 30 * time.Second
	DefaultMaxUnsentResponseBytes = 64 << 10
)

// Config holds Kestrel's timeouts and minimum data rates. The zero Config is
// Kestrel's defaults: a 130 s keep-alive timeout, a 30 s request headers
// timeout, and 240 bytes per second after a 5 s grace period for request
// bodies and responses.
type Config struct {
	// KeepAliveTimeout becomes http.Server.IdleTimeout, if the server has
	// none: how long an idle keep-alive connection stays open. Zero means
	// 130 s; negative leaves the server's setting alone.
	KeepAliveTimeout time.Duration

	// RequestHeadersTimeout becomes http.Server.ReadHeaderTimeout, if the
	// server has none: how long a client may take to send a request's
	// header. Zero means 30 s; negative leaves the server's setting alone.
	RequestHeadersTimeout time.Duration

	// MinRequestBodyDataRate is the slowest a client may send a request body.
	// Only time the handler spends waiting in a body Read counts. On
	// violation the Read fails with an error matching
	// [ErrMinRequestBodyDataRate], the client gets 408 if nothing was
	// written, and the connection closes (over HTTP/2 only the stream ends).
	MinRequestBodyDataRate Rate

	// MinResponseDataRate is the slowest a client may read a response. Each
	// write of n bytes may take max(GracePeriod, n/BytesPerSecond) beyond the
	// running deadline of the writes before it. On violation the connection
	// is aborted (over HTTP/2 the stream is reset).
	MinResponseDataRate Rate

	// MaxUnsentResponseBytes bounds, per connection, the response bytes the
	// kernel may queue unsent (TCP_NOTSENT_LOWAT, Linux; set by
	// [Policy.Apply]). Linux grows a socket's send buffer to 4 MiB, and a
	// write that fits there returns at once: a client that reads a byte a
	// second would have megabytes counted as sent, and with them the time to
	// read them at the minimum rate. With the bound, writes wait for the
	// client once it falls behind by this much, where the response rate
	// sees it. It costs honest clients nothing: bytes in flight are not
	// counted, only those not yet sent. Zero means 64 KiB; negative leaves
	// the system's setting (unbounded by default) alone.
	MaxUnsentResponseBytes int

	// OnViolation, if set, is called for each violation with the request
	// and a [*RateError]. It runs on a timer's goroutine, so it must be quick
	// and safe for concurrent use.
	OnViolation func(r *http.Request, err error)
}

// Policy enforces a [Config]: the server timeouts through [Policy.Apply], the
// minimum data rates through [Policy.Handler]. A Policy is safe for
// concurrent use.
type Policy struct {
	keepAlive      time.Duration
	headers        time.Duration
	unsent         int
	in, out        Rate
	onViolation    func(*http.Request, error)
	policed        atomic.Uint64
	active         atomic.Int64
	bodyViolations atomic.Uint64
	respViolations atomic.Uint64
}

// New returns a Policy for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Policy, error) {
	if err := cfg.MinRequestBodyDataRate.validate("Config.MinRequestBodyDataRate"); err != nil {
		return nil, err
	}
	if err := cfg.MinResponseDataRate.validate("Config.MinResponseDataRate"); err != nil {
		return nil, err
	}
	if cfg.MaxUnsentResponseBytes > 1<<30 {
		return nil, fmt.Errorf("windhover/timeouts: Config.MaxUnsentResponseBytes = %d is over 1 GiB", cfg.MaxUnsentResponseBytes)
	}
	return &Policy{
		unsent:      cmp.Or(cfg.MaxUnsentResponseBytes, DefaultMaxUnsentResponseBytes),
		keepAlive:   orDefault(cfg.KeepAliveTimeout, DefaultKeepAliveTimeout),
		headers:     orDefault(cfg.RequestHeadersTimeout, DefaultRequestHeadersTimeout),
		in:          cfg.MinRequestBodyDataRate.withDefaults(),
		out:         cfg.MinResponseDataRate.withDefaults(),
		onViolation: cfg.OnViolation,
	}, nil
}

// MinDataRates returns a Policy that enforces only the two minimum data rates:
// its Apply changes no timeout, and only bounds each connection's unsent
// bytes ([Config.MaxUnsentResponseBytes]), without which the response rate
// cannot see a slow reader behind the kernel's send buffer. Use [Off] for a
// rate to switch it off. It panics if a rate is invalid, a programmer's error
// with literal arguments.
func MinDataRates(requestBody, response Rate) *Policy {
	p, err := New(Config{MinRequestBodyDataRate: requestBody, MinResponseDataRate: response, KeepAliveTimeout: -1, RequestHeadersTimeout: -1})
	if err != nil {
		panic("timeouts: " + err.Error())
	}
	return p
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Apply sets srv's IdleTimeout and ReadHeaderTimeout to Kestrel's
// KeepAliveTimeout and RequestHeadersTimeout, each only if it is zero, and
// chains srv.ConnContext (keeping any function already there) to bound each
// TCP connection's unsent bytes, as [Config.MaxUnsentResponseBytes] says.
//
// It leaves ReadTimeout and WriteTimeout alone, and they are best left zero:
// a hard limit on a whole request or response cuts off healthy large uploads,
// downloads and streams, while the minimum data rates cut off only clients
// that are too slow. It leaves HTTP2.WriteByteTimeout alone too: a limit on
// time without progress would cut off a client that reads at the minimum rate
// but has megabytes buffered. The minimum response rate cuts each HTTP/2
// stream of a client that reads too slowly; a client that then stops reading
// the connection altogether keeps it open until it closes, or until a
// WriteByteTimeout the user chose. Call Apply once per server, before it
// starts.
func (p *Policy) Apply(srv *http.Server) {
	if p.keepAlive > 0 && srv.IdleTimeout == 0 {
		srv.IdleTimeout = p.keepAlive
	}
	if p.headers > 0 && srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = p.headers
	}
	if p.unsent > 0 {
		next, n := srv.ConnContext, p.unsent
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			limitUnsent(c, n)
			if next != nil {
				return next(ctx, c)
			}
			return ctx
		}
	}
}

// Stats is a snapshot of a Policy's counters.
type Stats struct {
	// RequestsPoliced counts the requests the handler has seen.
	RequestsPoliced uint64
	// ActiveRequests is the number of requests in the handler now.
	ActiveRequests int64
	// BodyRateViolations counts request bodies cut for being too slow.
	BodyRateViolations uint64
	// ResponseRateViolations counts responses cut for being read too slowly
	// while the handler was writing. What net/http still writes after the
	// handler returns (at most a few KiB) is bounded by a deadline that
	// net/http enforces itself; a cut there is not counted.
	ResponseRateViolations uint64
}

// Stats returns a snapshot of p's counters, each read atomically.
func (p *Policy) Stats() Stats {
	return Stats{
		RequestsPoliced:        p.policed.Load(),
		ActiveRequests:         p.active.Load(),
		BodyRateViolations:     p.bodyViolations.Load(),
		ResponseRateViolations: p.respViolations.Load(),
	}
}

// String describes p's settings.
func (p *Policy) String() string {
	return fmt.Sprintf("timeouts: keep-alive %v, headers %v, request body %v, response %v", p.keepAlive, p.headers, p.in, p.out)
}
