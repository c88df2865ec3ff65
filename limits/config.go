package limits

import (
	"fmt"
	"math"
	"net/http"
	"time"
)

// Kestrel's defaults, which the zero [Config] stands for.
const (
	DefaultMaxRequestLineSize         = 8192
	DefaultMaxRequestHeadersTotalSize = 32768
	DefaultMaxRequestHeaderCount      = 100
	DefaultMaxRequestBodySize         = 30_000_000
	// DefaultConnectionQueueTimeout is how long a queued connection waits for
	// a slot when ConnectionQueueTimeout is zero. Kestrel has no connection
	// queue; this is windhover's choice.
	DefaultConnectionQueueTimeout = 5 * time.Second
)

// NoUpgrades, as MaxConcurrentUpgradedConnections, refuses every upgrade
// request with 503 (Kestrel's MaxConcurrentUpgradedConnections = 0).
const NoUpgrades = -1

// The body limits that are not a number of bytes, for
// [Config.MaxRequestBodySize], the result of [Config.MaxRequestBodySizeFunc],
// [SetMaxRequestBodySize] and [MaxRequestBodySize].
const (
	// Unlimited sets no body limit (Kestrel's MaxRequestBodySize = null).
	// Every negative value but NoBody means the same.
	Unlimited int64 = -1

	// NoBody allows no request body at all (Kestrel's MaxRequestBodySize
	// = 0): a request whose body has a byte gets 413, one without a body
	// (no Content-Length, Content-Length: 0, or an empty chunked body) is
	// served. Config's zero means Kestrel's default, so this sentinel says
	// "zero bytes" there; where a limit is taken literally
	// ([SetMaxRequestBodySize], [MaxRequestBodySize]) 0 means the same.
	// It is the most negative int64, so that every other negative value
	// keeps meaning [Unlimited].
	NoBody int64 = math.MinInt64
)

// Overflow says what becomes of a connection that finds MaxConcurrentConnections
// connections open (and, with a queue, the queue full or its wait over).
type Overflow uint8

const (
	// OverflowClose accepts the connection and closes it at once without a
	// reply, as Kestrel does. The client sees the connection reset or closed.
	OverflowClose Overflow = iota
	// OverflowRespond503 answers a plaintext HTTP/1 client with a canned
	// "503 Service Unavailable" and "Connection: close" (aspnetcore #4777),
	// from a bounded set of goroutines with short deadlines. A connection
	// that opens with a TLS handshake or the HTTP/2 preface, sends nothing
	// within a second, or arrives while 64 refusals are already being
	// answered, is closed as with OverflowClose: a plaintext reply means
	// nothing to it, and a TLS handshake is work an overloaded server should
	// not take on.
	OverflowRespond503
)

// String returns "close" or "respond503".
func (o Overflow) String() string {
	switch o {
	case OverflowClose:
		return "close"
	case OverflowRespond503:
		return "respond503"
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

// Config holds Kestrel's server limits (KestrelServerLimits). The zero Config
// is Kestrel's defaults: unlimited connections and upgrades, an 8,192-byte
// request line, 100 header fields in at most 32,768 bytes, a 30,000,000-byte
// body, and Kestrel's HTTP/2 limits.
//
// Sizes are counted as Kestrel counts them: exactly, on the bytes as sent,
// for plaintext HTTP/1.x through [Limiter.Listener] and for HTTP/2; after
// net/http's parse for HTTP/1.1 over TLS and on servers without the
// Listener. See the package documentation.
type Config struct {
	// MaxConcurrentConnections is the most connections open at once, shared
	// by every listener wrapped with [Limiter.Listener] and every server
	// given to [Limiter.Apply]. Zero means no limit (Kestrel's default);
	// negative is an error.
	MaxConcurrentConnections int

	// ConnectionOverflow is what happens to a connection over
	// MaxConcurrentConnections. The zero value is Kestrel's: accept and close.
	ConnectionOverflow Overflow

	// MaxConnectionsPerClient is the most connections open at once from
	// one client, beside MaxConcurrentConnections (nginx's limit_conn; no
	// Kestrel equivalent): a client over it meets ConnectionOverflow at
	// once, never the queue, so that one client cannot fill the server or
	// its queue. The client is the immediate peer: its IP address, IPv6
	// addresses grouped by ClientIPv6PrefixLen; over a Unix socket, the
	// peer's uid (SO_PEERCRED, Linux; elsewhere every Unix peer is one
	// client). Behind a proxy or a load balancer the peer is the proxy,
	// and every client behind it counts as one: raise the limit, or leave
	// it to the proxy; users behind one address (a carrier's NAT, an
	// office) share it too, so leave room for them. The count is shared by
	// every listener and server of the Limiter. Only clients with a
	// connection open are tracked, so memory is bounded by the open
	// connections, not by the addresses seen. Zero means no limit;
	// negative is an error.
	MaxConnectionsPerClient int

	// ClientIPv4PrefixLen and ClientIPv6PrefixLen group client addresses
	// for MaxConnectionsPerClient into networks that count as one client.
	// Zero means one client per IPv4 address (32) and per IPv6 /64 (64),
	// as for the rate limiter: a client given a /64 can use any address
	// in it. IPv4-mapped IPv6 addresses count as IPv4. Out of range (1 to
	// 32, 1 to 128) is an error.
	ClientIPv4PrefixLen int
	ClientIPv6PrefixLen int

	// MaxConnectionAge retires a connection once it is this old, so that
	// a load balancer can spread long-lived keep-alive and HTTP/2
	// connections across instances again (no Kestrel equivalent): the first
	// request that starts after the connection's age passes it is answered
	// with "Connection: close", after which HTTP/1 closes and HTTP/2 sends
	// GOAWAY and finishes the streams already open. Each connection's limit
	// is drawn up to 10% lower at random, so that connections opened
	// together do not all close together. An idle connection is not closed
	// by it (KeepAliveTimeout does that). It needs [Limiter.Apply] and
	// [Limiter.Handler]. Zero means no limit; negative is an error.
	MaxConnectionAge time.Duration

	// MaxRequestsPerConnection retires a connection at its n-th request
	// (HTTP/2: stream), in the same way and for the same reason as
	// MaxConnectionAge, with the same jitter (none below 10 requests).
	// Zero means no limit; negative is an error.
	MaxRequestsPerConnection int

	// ConnectionQueueLength lets up to this many connections per listener
	// wait in Accept for a slot instead of being refused at once. A
	// connection that finds the queue full, or waits longer than
	// ConnectionQueueTimeout, meets ConnectionOverflow. Zero means no queue;
	// negative is an error. Only [Limiter.Listener] queues.
	ConnectionQueueLength int

	// ConnectionQueueTimeout is how long a queued connection may wait. Zero
	// means [DefaultConnectionQueueTimeout]; negative is an error.
	ConnectionQueueTimeout time.Duration

	// MaxConcurrentUpgradedConnections is the most upgraded connections
	// (HTTP/1.1 "Connection: Upgrade" requests without a body, such as
	// WebSockets; a request with a body is never an upgrade, as in Kestrel)
	// at once.
	// An upgrade request over the limit gets 503 before its handler runs,
	// so no 101 is ever written. A connection that upgrades leaves the
	// MaxConcurrentConnections pool and holds an upgrade slot until it
	// closes. Zero means no limit (Kestrel's default); [NoUpgrades] (any
	// negative value) refuses every upgrade.
	MaxConcurrentUpgradedConnections int

	// MaxRequestLineSize is the longest request line in bytes: method,
	// target and version with the two spaces between them, and the CRLF, as
	// Kestrel counts it ("GET / HTTP/1.1\r\n" is 16). Over it: 414, on
	// plaintext HTTP/1.x connections of [Limiter.Listener] as soon as the
	// limit is crossed. Over HTTP/2, the :method, :scheme, :authority and
	// :path values stand for the line. Zero means 8,192 (Kestrel's default);
	// negative switches the check off.
	MaxRequestLineSize int

	// MaxRequestHeadersTotalSize bounds the header field lines in bytes.
	// On plaintext HTTP/1.x connections of [Limiter.Listener] each line
	// counts as sent, its CRLF and whitespace included, a chunked body's
	// trailers with them, and the limit is checked as the bytes come; over
	// TLS and without the Listener, after net/http's parse, each field as
	// name, ": ", value and CRLF; over HTTP/2, each field's name and value,
	// as the client sent it. The blank line that ends the head is free. Over
	// it: 431. Zero means 32,768 (Kestrel's default); negative switches the
	// check off.
	MaxRequestHeadersTotalSize int

	// MaxRequestHeaderCount bounds the number of header field lines, Host
	// included (an empty Host and a chunked body's trailers too on the
	// Listener's plaintext connections). Over it: 431. Zero means 100
	// (Kestrel's default); negative switches the check off.
	MaxRequestHeaderCount int

	// MaxRequestBodySize bounds a request body in bytes. A body over it fails
	// as it is read, with *http.MaxBytesError (at the first Read, before a
	// byte is read, if its declared Content-Length is over it), and gets 413
	// if the handler wrote nothing. On plaintext HTTP/1.x connections of
	// [Limiter.Listener] a chunked body counts as Kestrel reads it, its
	// chunk-size lines, extensions and CRLFs with its data (a body without
	// data is never over it); elsewhere its data counts. Until the first
	// Read it is the request's limit, which a limits handler further in or
	// [SetMaxRequestBodySize] may change. Zero means 30,000,000 (Kestrel's default); [NoBody] allows no
	// body at all (Kestrel's 0); [Unlimited], or any other negative value,
	// means no limit (Kestrel's null). Only an HTTP/2 extended CONNECT, whose
	// request stream is a tunnel, is exempt.
	MaxRequestBodySize int64

	// MaxRequestBodySizeFunc, if set, chooses the body limit for each request
	// before its handler runs, for routes that take more (or less) than
	// MaxRequestBodySize: it returns the limit in bytes, zero for
	// MaxRequestBodySize, [NoBody] for no body at all, or [Unlimited] (any
	// other negative number) for none. It is called only for requests that
	// have a body, and must be safe for concurrent use.
	MaxRequestBodySizeFunc func(r *http.Request) int64

	// HTTP2 holds Kestrel's HTTP/2 limits, which [Limiter.Apply] puts on the
	// server's http.Server.HTTP2 wherever the user left a field zero; a field
	// the user set more strictly is kept, and one set more laxly is an error.
	HTTP2 HTTP2Limits

	// OnReject, if set, is called for each refusal with the request and an
	// [*Error]. The request is nil for a refused connection, and for a head
	// that the Listener's connections refused on the wire before net/http
	// made a request of it (the Error's Addr is then the client's). A
	// chunked body that such a connection failed (broken framing, trailers
	// over the header limits) is reported with its request by the Limiter's
	// Handler, or, read by no handler of the Limiter, without one when the
	// connection closes. It runs on the goroutine that refused, before the
	// client is answered, so it must be quick and safe for concurrent use.
	OnReject func(r *http.Request, err error)
}

// HTTP2Limits holds Kestrel's HTTP/2 limits (Http2Limits). Each zero field
// means Kestrel's default; each maps to a field of http.HTTP2Config.
// Kestrel's MaxRequestHeaderFieldSize has no equivalent in Go; the size of a
// whole header list is bounded by MaxRequestLineSize and
// MaxRequestHeadersTotalSize through http.Server.MaxHeaderBytes.
type HTTP2Limits struct {
	// MaxStreamsPerConnection: concurrent streams per connection. Zero: 100.
	MaxStreamsPerConnection int
	// HeaderTableSize: the HPACK decoder's table size in bytes. Zero: 4,096.
	HeaderTableSize int
	// MaxFrameSize: the largest frame payload read, 16,384 to 16,777,215
	// bytes. Zero: 16,384.
	MaxFrameSize int
	// InitialConnectionWindowSize: the receive window of a connection,
	// at least 65,535 bytes. Zero: 1 MiB.
	InitialConnectionWindowSize int
	// InitialStreamWindowSize: the receive window of a stream. Zero: 768 KiB.
	InitialStreamWindowSize int
	// KeepAlivePingDelay: ping a connection that has been silent this long.
	// Zero: never (Kestrel's default).
	KeepAlivePingDelay time.Duration
	// KeepAlivePingTimeout: close a connection whose ping is unanswered this
	// long. Zero: 20 s.
	KeepAlivePingTimeout time.Duration
}

// Kestrel's HTTP/2 defaults.
const (
	defaultHTTP2MaxStreams        = 100
	defaultHTTP2HeaderTableSize   = 4096
	defaultHTTP2MaxFrameSize      = 16384
	defaultHTTP2ConnectionWindow  = 1 << 20
	defaultHTTP2StreamWindow      = 768 << 10
	defaultHTTP2PingTimeout       = 20 * time.Second
	maxHTTP2FrameSize             = 1<<24 - 1
	minHTTP2ConnectionWindow      = 65535
	maxHTTP2WindowOrStreamsOrSize = math.MaxInt32
)

// settings is a Config validated and with its defaults filled in. A negative
// size means the check is off; a body size of 0 allows no body.
type settings struct {
	maxConns     int64
	overflow     Overflow
	queueLen     int
	queueTimeout time.Duration
	perClient    int // 0: no limit
	maxAge       time.Duration
	maxRequests  int64
	clientV4     int
	clientV6     int
	maxUpgrades  int64 // 0 unlimited, negative none allowed
	lineSize     int
	headersSize  int
	headerCount  int
	bodySize     int64
	bodySizeFunc func(*http.Request) int64
	http2        *http.HTTP2Config // nil: leave the server's alone
	onReject     func(*http.Request, error)
}

func (c *Config) settings() (settings, error) {
	s := settings{
		maxConns:     int64(c.MaxConcurrentConnections),
		overflow:     c.ConnectionOverflow,
		queueLen:     c.ConnectionQueueLength,
		queueTimeout: c.ConnectionQueueTimeout,
		perClient:    c.MaxConnectionsPerClient,
		maxAge:       c.MaxConnectionAge,
		maxRequests:  int64(c.MaxRequestsPerConnection),
		clientV4:     orDefault(c.ClientIPv4PrefixLen, DefaultIPv4PrefixLen),
		clientV6:     orDefault(c.ClientIPv6PrefixLen, DefaultIPv6PrefixLen),
		maxUpgrades:  int64(c.MaxConcurrentUpgradedConnections),
		lineSize:     orDefault(c.MaxRequestLineSize, DefaultMaxRequestLineSize),
		headersSize:  orDefault(c.MaxRequestHeadersTotalSize, DefaultMaxRequestHeadersTotalSize),
		headerCount:  orDefault(c.MaxRequestHeaderCount, DefaultMaxRequestHeaderCount),
		bodySize:     literalBodyLimit(orDefault(c.MaxRequestBodySize, DefaultMaxRequestBodySize)),
		bodySizeFunc: c.MaxRequestBodySizeFunc,
		onReject:     c.OnReject,
	}
	if c.MaxConcurrentConnections < 0 {
		return s, fieldError("MaxConcurrentConnections", c.MaxConcurrentConnections, "must not be negative (0 means no limit)")
	}
	if c.ConnectionOverflow > OverflowRespond503 {
		return s, fieldError("ConnectionOverflow", c.ConnectionOverflow, "is not OverflowClose or OverflowRespond503")
	}
	if c.MaxConnectionsPerClient < 0 {
		return s, fieldError("MaxConnectionsPerClient", c.MaxConnectionsPerClient, "must not be negative (0 means no limit)")
	}
	if c.MaxConnectionsPerClient > math.MaxInt32 {
		return s, fieldError("MaxConnectionsPerClient", c.MaxConnectionsPerClient, "must be at most 2147483647")
	}
	if c.ClientIPv4PrefixLen < 0 || c.ClientIPv4PrefixLen > 32 {
		return s, fieldError("ClientIPv4PrefixLen", c.ClientIPv4PrefixLen, "must be between 1 and 32 (0 means 32)")
	}
	if c.ClientIPv6PrefixLen < 0 || c.ClientIPv6PrefixLen > 128 {
		return s, fieldError("ClientIPv6PrefixLen", c.ClientIPv6PrefixLen, "must be between 1 and 128 (0 means 64)")
	}
	if c.MaxConnectionAge < 0 {
		return s, fieldError("MaxConnectionAge", c.MaxConnectionAge, "must not be negative (0 means no limit)")
	}
	if c.MaxRequestsPerConnection < 0 {
		return s, fieldError("MaxRequestsPerConnection", c.MaxRequestsPerConnection, "must not be negative (0 means no limit)")
	}
	if c.ConnectionQueueLength < 0 {
		return s, fieldError("ConnectionQueueLength", c.ConnectionQueueLength, "must not be negative (0 means no queue)")
	}
	if c.ConnectionQueueTimeout < 0 {
		return s, fieldError("ConnectionQueueTimeout", c.ConnectionQueueTimeout, "must not be negative")
	}
	if s.queueTimeout == 0 {
		s.queueTimeout = DefaultConnectionQueueTimeout
	}
	if s.maxUpgrades < 0 {
		s.maxUpgrades = NoUpgrades
	}
	h2, err := c.HTTP2.config()
	if err != nil {
		return s, err
	}
	s.http2 = h2
	return s, nil
}

func (h *HTTP2Limits) config() (*http.HTTP2Config, error) {
	check := func(name string, v, min, max int) error {
		if v != 0 && (v < min || v > max) {
			return fieldError("HTTP2."+name, v, fmt.Sprintf("must be 0 (Kestrel's default) or between %d and %d", min, max))
		}
		return nil
	}
	for _, err := range []error{
		check("MaxStreamsPerConnection", h.MaxStreamsPerConnection, 1, maxHTTP2WindowOrStreamsOrSize),
		check("HeaderTableSize", h.HeaderTableSize, 1, maxHTTP2WindowOrStreamsOrSize),
		check("MaxFrameSize", h.MaxFrameSize, defaultHTTP2MaxFrameSize, maxHTTP2FrameSize),
		check("InitialConnectionWindowSize", h.InitialConnectionWindowSize, minHTTP2ConnectionWindow, maxHTTP2WindowOrStreamsOrSize),
		check("InitialStreamWindowSize", h.InitialStreamWindowSize, 1, maxHTTP2WindowOrStreamsOrSize),
	} {
		if err != nil {
			return nil, err
		}
	}
	if h.KeepAlivePingDelay < 0 {
		return nil, fieldError("HTTP2.KeepAlivePingDelay", h.KeepAlivePingDelay, "must not be negative (0 means no pings)")
	}
	if h.KeepAlivePingTimeout < 0 {
		return nil, fieldError("HTTP2.KeepAlivePingTimeout", h.KeepAlivePingTimeout, "must not be negative")
	}
	return &http.HTTP2Config{
		MaxConcurrentStreams:          orDefault(h.MaxStreamsPerConnection, defaultHTTP2MaxStreams),
		MaxDecoderHeaderTableSize:     orDefault(h.HeaderTableSize, defaultHTTP2HeaderTableSize),
		MaxReadFrameSize:              orDefault(h.MaxFrameSize, defaultHTTP2MaxFrameSize),
		MaxReceiveBufferPerConnection: orDefault(h.InitialConnectionWindowSize, defaultHTTP2ConnectionWindow),
		MaxReceiveBufferPerStream:     orDefault(h.InitialStreamWindowSize, defaultHTTP2StreamWindow),
		SendPingTimeout:               h.KeepAlivePingDelay,
		PingTimeout:                   orDefault(h.KeepAlivePingTimeout, defaultHTTP2PingTimeout),
	}, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func fieldError(field string, value any, problem string) error {
	return configError("Config", field, value, problem)
}

// configError names the configuration type and field that is wrong.
func configError(config, field string, value any, problem string) error {
	return fmt.Errorf("windhover/limits: %s.%s = %v %s", config, field, value, problem)
}
