package timeouts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/connctx"
	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/stripe"
	"github.com/windhover/windhover/internal/tracer"
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
	// KeepAliveTimeout is how long a connection may wait for the first
	// byte of a request: from its accept, and from the end of the previous
	// response. [Policy.Listener] holds plaintext HTTP/1 connections to it
	// as Kestrel does, closing without an answer; [Policy.Apply] makes it
	// http.Server.IdleTimeout, if the server has none, which bounds idle
	// connections the Listener does not time (net/http measures between
	// requests only, until a request's fourth byte). A server's own
	// shorter IdleTimeout or ReadHeaderTimeout is kept, and bounds the
	// Listener's waits too; a longer IdleTimeout is an error (see Apply).
	// Zero means 130 s; negative leaves the wait to the server's own
	// settings.
	KeepAliveTimeout time.Duration

	// RequestHeadersTimeout is how long a client may take to send a
	// request's head. [Policy.Listener] measures it from the head's first
	// byte, as Kestrel does, and answers 408 and closes when it runs out,
	// also for a head stopped in the middle of a line; [Policy.Apply] makes
	// it http.Server.ReadHeaderTimeout, if the server has none, which
	// bounds the heads the Listener does not time (net/http measures from
	// the accept on a new connection, and closes without an answer). A
	// server's own shorter ReadHeaderTimeout is kept, and bounds the
	// Listener's heads too; a longer one is an error (see Apply). Zero
	// means 30 s; negative leaves heads to the server's own settings.
	RequestHeadersTimeout time.Duration

	// MinRequestBodyDataRate is the slowest a client may send a request body.
	// Only time the handler spends waiting in a body Read counts, and a
	// client banks no more than GracePeriod ahead of the rate, so one that
	// stops sending is cut within a grace period of its last bytes. On
	// violation the Read fails with an error matching
	// [ErrMinRequestBodyDataRate], the client gets 408 if nothing was
	// written, and the connection closes (over HTTP/2 only the stream ends).
	MinRequestBodyDataRate Rate

	// MinResponseDataRate is the slowest a client may read a response. Each
	// write of n bytes may take max(GracePeriod, n/BytesPerSecond), or
	// n/BytesPerSecond beyond the running deadline of the writes before it,
	// and a client banks no more than GracePeriod ahead of the rate, so one
	// that stops reading is cut within a grace period and a write's
	// n/BytesPerSecond of the write that finds it stopped. On violation the
	// connection is aborted (over HTTP/2 the stream is reset).
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

	// KeepServerTimeouts makes [Policy.Apply] keep an http.Server's
	// ReadTimeout or WriteTimeout that is set while the matching minimum
	// rate is on. Such a timeout bounds a whole request or response, so it
	// cuts off honest large uploads and downloads that keep the rates, and
	// Apply refuses it unless this is true.
	KeepServerTimeouts bool

	// EnforceWhenDebugged keeps the Listener's KeepAliveTimeout and
	// RequestHeadersTimeout and the minimum data rates enforced while a
	// debugger is attached to the process. By default, as in Kestrel, they
	// are not: a connection is not cut because its server stopped at a
	// breakpoint. A debugger is a ptrace tracer (delve, gdb, strace) on
	// Linux, seen as a non-zero TracerPid in /proc/self/status, one that
	// sets P_TRACED on macOS, and one IsDebuggerPresent reports on
	// Windows; it is looked for at most once a second, and only when a
	// timer or rate runs out, never per request.
	// A timer or rate that runs out while one is attached is looked at
	// again a second later, and enforced then if the debugger is gone; the
	// first time the Policy stands down is logged through log/slog. On
	// other systems no debugger is detected and everything is enforced.
	// net/http's own timeouts, which [Policy.Apply] sets where the Listener
	// does not reach (IdleTimeout, ReadHeaderTimeout: TLS, HTTP/2), run
	// regardless.
	EnforceWhenDebugged bool

	// OnReject, if set, is called for each violation (the name every
	// windhover policy gives its callback): with the request
	// and a [*RateError] for a minimum data rate, on a timer's goroutine;
	// with a nil request and a [*TimeoutError] for a connection
	// [Policy.Listener] closed because KeepAliveTimeout or
	// RequestHeadersTimeout ran out before a request's head was in (there
	// is no request yet), on the connection's goroutine, before the 408 is
	// written. It must be quick and safe for concurrent use.
	OnReject func(r *http.Request, err error)
}

// Policy enforces a [Config]: the server timeouts through [Policy.Apply], the
// minimum data rates through [Policy.Handler]. A Policy is safe for
// concurrent use.
type Policy struct {
	keepAlive      time.Duration
	headers        time.Duration
	unsent         int
	in, out        Rate
	keepServer     bool
	debuggerPauses bool // stand down while a debugger is attached
	onReject       func(*http.Request, error)
	policed        stripe.Counter
	active         stripe.Counter
	bodyViolations atomic.Uint64
	respViolations atomic.Uint64
	unreadBodies   atomic.Uint64
	unenforceable  atomic.Uint64
	warned         atomic.Bool
	warnedDebugger atomic.Bool

	// wire times the heads of the connections of p's listeners, and counts
	// their timeouts; nil if both timers are off.
	wire         *h1wire.Wire
	untimed      atomic.Uint64
	warnedTiming atomic.Bool
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
	p := &Policy{
		unsent:         cmp.Or(cfg.MaxUnsentResponseBytes, DefaultMaxUnsentResponseBytes),
		keepAlive:      orDefault(cfg.KeepAliveTimeout, DefaultKeepAliveTimeout),
		headers:        orDefault(cfg.RequestHeadersTimeout, DefaultRequestHeadersTimeout),
		in:             cfg.MinRequestBodyDataRate.withDefaults(),
		out:            cfg.MinResponseDataRate.withDefaults(),
		keepServer:     cfg.KeepServerTimeouts,
		debuggerPauses: !cfg.EnforceWhenDebugged,
		onReject:       cfg.OnReject,
	}
	if p.keepAlive > 0 || p.headers > 0 {
		wc := h1wire.Config{KeepAliveTimeout: p.keepAlive, RequestHeadersTimeout: p.headers, Parts: h1wire.PartTimers}
		if p.onReject != nil {
			wc.OnReject = p.decide
		}
		if p.debuggerPauses {
			wc.Suspended = p.debugged
		}
		p.wire = h1wire.New(wc)
	}
	return p, nil
}

// debugged reports whether p stands down because a debugger is attached,
// and logs the first time it does, so that whoever wonders why a timeout did
// not fire is told.
func (p *Policy) debugged() bool {
	if !p.debuggerPauses || !tracer.Attached() {
		return false
	}
	if !p.warnedDebugger.Load() && p.warnedDebugger.CompareAndSwap(false, true) {
		slog.Info("windhover/timeouts: a debugger is attached, so the keep-alive and request headers timeouts and the minimum data rates " +
			"are not enforced until it detaches, as in Kestrel (Config.EnforceWhenDebugged keeps them)")
	}
	return true
}

// MinDataRates returns a Policy that enforces only the two minimum data rates:
// its Apply sets no timeout, and only bounds each connection's unsent bytes
// ([Config.MaxUnsentResponseBytes]), without which the response rate cannot
// see a slow reader behind the kernel's send buffer. Like every Apply, it
// refuses a server whose ReadTimeout or WriteTimeout would cut what the rates
// allow; [New] with [Config.KeepServerTimeouts] keeps them. Use [Off] for a
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

// Apply prepares srv for p, or returns an error naming every field of the
// server's that conflicts with p, and leaves srv unchanged.
//
// It sets srv's IdleTimeout and ReadHeaderTimeout to Kestrel's
// KeepAliveTimeout and RequestHeadersTimeout, each only if it is zero; since
// net/http falls back to ReadTimeout for both, a shorter ReadTimeout is kept
// as their bound. They time what [Policy.Listener] does not (TLS, HTTP/2, a
// server without the Listener), with net/http's rules rather than Kestrel's.
// Values srv already has are kept where they are stricter than the timers,
// and the Listener keeps them too, so that no client waits longer than srv
// alone would let it: an IdleTimeout (or ReadTimeout) shorter than
// KeepAliveTimeout bounds the wait between requests until a request's fourth
// byte, a ReadHeaderTimeout (or ReadTimeout) shorter than
// RequestHeadersTimeout bounds each later head from that byte, and a new
// connection's wait and first head together from the accept, as net/http
// times them; where such a bound runs out first, the Listener acts as for
// its own timer (a silent close, or 408 for a head begun), counted and
// reported with the bound as [TimeoutError.Limit]. The bounds are each
// server's: ConnContext hands them to the connections it serves (one Policy
// may serve several servers). An IdleTimeout longer than KeepAliveTimeout,
// or a ReadHeaderTimeout longer than RequestHeadersTimeout (or either
// negative: none at all), is an error: net/http would enforce it instead of
// the timer on the connections the Listener does not time.
//
// It chains srv.ConnContext (keeping any function already there), to hand
// each connection the server's bounds, to bound each TCP connection's unsent
// bytes, as [Config.MaxUnsentResponseBytes] says, without raising a lower
// bound the socket already has, to give [Policy.Handler] the connection's
// deadlines when a ResponseWriter without an Unwrap method hides net/http's,
// and to note the plaintext connections whose heads p does not time, for
// [Stats.UntimedRequests]. And it sets
// srv.DisableGeneralOptionsHandler, so that "OPTIONS *" requests reach the
// handlers, where windhover's policies see them and the innermost answers
// them as net/http would.
//
// A ReadTimeout or WriteTimeout is an error while the matching minimum rate is
// on, unless [Config.KeepServerTimeouts] is set: a hard limit on a whole
// request or response cuts off healthy large uploads, downloads and streams,
// while the minimum data rates cut off only clients that are too slow. Apply
// leaves HTTP2.WriteByteTimeout alone: a limit on time without progress would
// cut off a client that reads at the minimum rate but has megabytes buffered.
// The minimum response rate cuts each HTTP/2 stream of a client that reads too
// slowly; a client that then stops reading the connection altogether keeps it
// open until it closes, or until a WriteByteTimeout the user chose. Call Apply
// once per server, before it starts.
func (p *Policy) Apply(srv *http.Server) error {
	if err := p.conflicts(srv); err != nil {
		return err
	}
	// The server's own bounds, which the Listener keeps where they are
	// stricter than its timers: net/http uses ReadTimeout where the others
	// are zero.
	idle, head := cmp.Or(srv.IdleTimeout, srv.ReadTimeout), cmp.Or(srv.ReadHeaderTimeout, srv.ReadTimeout)
	bounded := idle > 0 || head > 0
	if p.keepAlive > 0 && srv.IdleTimeout == 0 {
		srv.IdleTimeout = stricter(p.keepAlive, srv.ReadTimeout)
	}
	if p.headers > 0 && srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = stricter(p.headers, srv.ReadTimeout)
	}
	srv.DisableGeneralOptionsHandler = true
	next, n := srv.ConnContext, p.unsent
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if n > 0 {
			limitUnsent(c, n)
		}
		if next != nil {
			ctx = next(ctx, c)
		}
		wc, timed := p.timed(c)
		if wc != nil && bounded {
			wc.Bound(idle, head) // before the server reads from c
		}
		if !timed {
			return connctx.With(ctx, connctx.Conn, &untimedConn{p: p, c: c})
		}
		if servedConn(ctx) == c {
			return ctx // kept by another Policy's hook
		}
		return connctx.With(ctx, connctx.Conn, c)
	}
	return nil
}

// conflicts returns every setting of srv that p would loosen or that would
// loosen p, joined: a ReadTimeout or WriteTimeout that would cut what the
// rates allow, unless Config.KeepServerTimeouts keeps them; an IdleTimeout
// or ReadHeaderTimeout longer than the timer it stands for on the
// connections the Listener does not time (TLS, HTTP/2), where net/http
// alone enforces it.
func (p *Policy) conflicts(srv *http.Server) error {
	var errs []error
	if !p.keepServer {
		if srv.ReadTimeout > 0 && !p.in.IsOff() {
			errs = append(errs, fmt.Errorf("windhover/timeouts: http.Server.ReadTimeout = %v would cut request bodies that keep Config.MinRequestBodyDataRate (%v); set it to 0, or Config.KeepServerTimeouts to keep it", srv.ReadTimeout, p.in))
		}
		if srv.WriteTimeout > 0 && !p.out.IsOff() {
			errs = append(errs, fmt.Errorf("windhover/timeouts: http.Server.WriteTimeout = %v would cut responses that keep Config.MinResponseDataRate (%v); set it to 0, or Config.KeepServerTimeouts to keep it", srv.WriteTimeout, p.out))
		}
	}
	// A negative one is none at all for net/http, the longest there is.
	if p.keepAlive > 0 && (srv.IdleTimeout > p.keepAlive || srv.IdleTimeout < 0) {
		errs = append(errs, longer("IdleTimeout", srv.IdleTimeout, "KeepAliveTimeout", p.keepAlive, "TLS and HTTP/2 connections"))
	}
	if p.headers > 0 && (srv.ReadHeaderTimeout > p.headers || srv.ReadHeaderTimeout < 0) {
		errs = append(errs, longer("ReadHeaderTimeout", srv.ReadHeaderTimeout, "RequestHeadersTimeout", p.headers, "TLS connections"))
	}
	return errors.Join(errs...)
}

// longer is the error for the server's field, whose value d is longer than
// the Config's timer of that name (d negative: none), which it would stand
// for where the Listener does not time connections.
func longer(field string, d time.Duration, timer string, limit time.Duration, where string) error {
	value, instead := d.String(), fmt.Sprintf("Config.%s to %v", timer, d)
	if d < 0 {
		value, instead = d.String()+" (none)", fmt.Sprintf("a negative Config.%s to leave it to the server", timer)
	}
	return fmt.Errorf("windhover/timeouts: http.Server.%s = %s is longer than Config.%s = %v, and would stand for it on %s; set it to %v or less (0: Apply sets it), or %s",
		field, value, timer, limit, where, limit, instead)
}

// stricter returns d, or the server's fallback if that is shorter: net/http
// uses ReadTimeout where IdleTimeout or ReadHeaderTimeout is zero.
func stricter(d, fallback time.Duration) time.Duration {
	if fallback > 0 && fallback < d {
		return fallback
	}
	return d
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
	// UnreadBodies counts HTTP/1 requests answered while part of their
	// body was still unread and had not arrived: their connection closed
	// after the response rather than wait for it.
	UnreadBodies uint64
	// UnenforceableRequests counts requests the policy could not hold to
	// its rates, nor protect from an unread body: a ResponseWriter without
	// an Unwrap method hid net/http's, and the connection was out of reach
	// (HTTP/2, or a server without [Policy.Apply]). The first is also
	// logged through log/slog.
	UnenforceableRequests uint64
	// KeepAliveTimeouts counts connections [Policy.Listener] closed without
	// an answer: no byte of a request came within KeepAliveTimeout of the
	// accept or of the previous response.
	KeepAliveTimeouts uint64
	// RequestHeadersTimeouts counts request heads [Policy.Listener]
	// answered with 408 and Connection: close: not in within
	// RequestHeadersTimeout of their first byte.
	RequestHeadersTimeouts uint64
	// UntimedRequests counts plaintext HTTP/1 requests, on a server with
	// [Policy.Apply], whose connection did not come through
	// [Policy.Listener]: net/http alone timed their heads, with
	// ReadHeaderTimeout from the accept on a new connection (a client that
	// connects early and sends later is cut), closing silently on a late
	// head and answering 400 to one stopped mid-line, where Kestrel waits
	// KeepAliveTimeout for the first byte and answers 408. The first is
	// also logged through log/slog. Over TLS and HTTP/2 the server's
	// timeouts are the design, and nothing is counted.
	UntimedRequests uint64
}

// Stats returns a snapshot of p's counters, each read atomically.
func (p *Policy) Stats() Stats {
	s := Stats{
		RequestsPoliced:        uint64(p.policed.Load()),
		ActiveRequests:         p.active.Load(),
		BodyRateViolations:     p.bodyViolations.Load(),
		ResponseRateViolations: p.respViolations.Load(),
		UnreadBodies:           p.unreadBodies.Load(),
		UnenforceableRequests:  p.unenforceable.Load(),
		UntimedRequests:        p.untimed.Load(),
	}
	if p.wire != nil {
		closed := p.wire.Stats().Closed
		s.KeepAliveTimeouts = closed[h1wire.ReasonKeepAliveTimeout]
		s.RequestHeadersTimeouts = closed[h1wire.ReasonRequestHeadersTimeout]
	}
	return s
}

// String describes p's settings.
func (p *Policy) String() string {
	return fmt.Sprintf("timeouts: keep-alive %v, headers %v, request body %v, response %v", p.keepAlive, p.headers, p.in, p.out)
}
