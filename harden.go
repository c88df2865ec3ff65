package windhover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/stack"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
	"github.com/windhover/windhover/unixsock"
)

// Config is everything [Harden] puts on a server: Kestrel's options
// (KestrelServerOptions and its Limits) and the middlewares an ASP.NET Core
// application puts around its endpoints. Its zero value is Kestrel's
// defaults with no middleware refusing anything an ordinary client does: any
// host, no client certificates, no rate or concurrency limit.
//
// Each section is the Config of the package that enforces it, with that
// package's meanings, so what a field does is documented once, there.
type Config struct {
	// Limits are Kestrel's server limits (KestrelServerLimits and its
	// Http2): connections, the request line, header fields, request bodies
	// and the HTTP/2 settings. See [limits.Config].
	Limits limits.Config

	// Timeouts are Kestrel's timers and minimum data rates: KeepAliveTimeout,
	// RequestHeadersTimeout, MinRequestBodyDataRate and MinResponseDataRate.
	// See [timeouts.Config].
	Timeouts timeouts.Config

	// AllowedHosts are the hosts a request may name (ASP.NET Core's host
	// filtering middleware), as in [hostfilter.Config]. Empty allows any
	// well-formed host, as "*" does and as an application without
	// AllowedHosts does. [hostfilter.ParseAllowedHosts] reads
	// appsettings.json's "a.example.com;*.example.com".
	AllowedHosts []string

	// HostFiltering holds host filtering's other options; its AllowedHosts
	// must be left empty (set AllowedHosts above).
	HostFiltering hostfilter.Config

	// ClientCertificates is Kestrel's ClientCertificateMode, per host name
	// (SNI) if needed, and ASP.NET's certificate validation. The zero value
	// asks for none. See [certauth.Config].
	ClientCertificates certauth.Config

	// RateLimit, if set, limits each client to a token bucket (429).
	RateLimit *limits.RateConfig

	// Concurrency, if set, bounds the requests in the handlers at once, with
	// an optional queue (503).
	Concurrency *limits.ConcurrencyConfig

	// Shutdown is how [Server.Run] stops: a drain delay and a timeout, in
	// Kestrel's sequence. See [graceful.Config].
	Shutdown graceful.Config

	// Metrics configures the HTTP metrics. See [metrics.Config].
	Metrics metrics.Config

	// Endpoints are where [Server.Run] listens when it is given no
	// listener: Kestrel's Endpoints ([ParseEndpoint] reads their URLs).
	Endpoints []Endpoint

	// Protocols, if set, are the protocols the server speaks (Kestrel's
	// Protocols: HTTP/1.1, HTTP/2 over TLS, HTTP/2 with prior knowledge);
	// a server whose own Protocols differ is a conflict.
	Protocols *http.Protocols

	// Certificate, if set, is the server's certificate, read from PEM files
	// by Harden and read again when they change (at most once a second, on a
	// handshake), symlink swaps included, as Kubernetes updates a mounted
	// secret; connections open are not touched. The server must not have a
	// certificate of its own in its TLSConfig.
	Certificate CertificateFiles

	// SniCertificates are certificates per server name (Kestrel's Sni): an
	// exact name, a wildcard "*.example.com", or "*". Others get
	// Certificate.
	SniCertificates map[string]CertificateFiles

	// ClientCAFiles are PEM files of the roots client certificates must
	// lead to, read into ClientCertificates.ClientCAs by Harden.
	ClientCAFiles []string

	// LivePath, if set, is a path the server answers with its liveness:
	// 200 "ok" for as long as it serves, the drain included (a liveness
	// probe that failed during the drain would have the platform kill the
	// process before it is done). It is answered where ReadyPath is.
	LivePath string

	// ReadyPath, if set, is a path the server answers with its readiness:
	// 200, then 503 from the moment it begins to stop ([graceful]). The
	// request is answered before the host filter and the rate and
	// concurrency limits, so that a probe that names the pod's address, or
	// comes when the server is busiest, gets the truth.
	ReadyPath string

	// MetricsPath, if set, is a path the server answers with the metrics of
	// the registry given to [Server.Register]. It is behind the host filter
	// (a scrape must name an allowed host) but before the rate and
	// concurrency limits, so that the metrics that tell of an overload are
	// not refused by it.
	MetricsPath string

	// StreamGoroutines, if true, has each HTTP/2 and HTTP/3 request served
	// on the goroutine net/http (or quic-go) started for its stream, as
	// they serve it, rather than on one of the Server's workers, goroutines
	// whose stacks have grown already (see the package documentation). Set
	// it if a handler relies on its goroutine ending with its request: one
	// that returns with the goroutine locked to its OS thread
	// (runtime.LockOSThread) to have the thread thrown away, say. It costs
	// the growth of each stream's stack (made once, at the top of the
	// chain), about a tenth of the CPU time of a server of small responses
	// over h2c.
	StreamGoroutines bool

	// OnReject, if set, is called with every refusal of every policy: the
	// request (nil for a connection refused before any request) and an
	// error that [RefusalOf] describes. It is called after the callback the
	// refusing policy's own Config may have. It must be quick and safe for
	// concurrent use.
	OnReject func(r *http.Request, err error)
}

// Server is an http.Server hardened by [Harden]: it holds the policies, for
// their listeners, their counters and their metrics, and runs the server.
type Server struct {
	srv   *http.Server
	cfg   Config
	lim   *limits.Limiter
	pol   *timeouts.Policy
	hosts *hostfilter.Filter
	certs *certauth.Policy
	rate  *limits.RateLimiter        // nil without Config.RateLimit
	conc  *limits.ConcurrencyLimiter // nil without Config.Concurrency
	group *graceful.Group
	met   *metrics.Metrics

	scrape   http.Handler // MetricsPath's, once Register has a registry
	scrapeOK chan struct{}
	reg      prometheus.Registerer // Register's, for the Unix sockets Run serves

	endpoints []Endpoint
	files     *certificates // nil without Config.Certificate and SniCertificates
	lns       []listening   // opened by Listen
	bound     []Bound       // their endpoints and addresses
	listened  bool
	sharers   int // the handlers of the chain that share the clock's readings
}

// listening is a listener Run serves, and whether it speaks TLS.
type listening struct {
	ln  net.Listener
	tls bool
}

// Harden puts every protection of cfg on srv, keeping its handler, its TLS
// configuration and its hooks: it wraps srv.Handler (nil means
// http.DefaultServeMux) in the policies, in the one order in which each can
// act (see the package documentation), and applies their server settings.
//
// Harden never makes srv weaker. A setting srv already has that is as strict
// as the policy's, or stricter, is kept (a shorter IdleTimeout or
// ReadHeaderTimeout bounds the Listener's timers too); one the policies
// would have to loosen, or that would loosen them, is an error naming both
// values (a ReadTimeout that would cut the minimum data rates, an
// IdleTimeout or ReadHeaderTimeout longer than the timer it stands for over
// TLS and HTTP/2, a larger MaxHeaderBytes, a ClientAuth stronger than the
// certificate mode, client certificates asked for on a server without TLS).
// Every conflict is reported at once, and srv is then left as it was.
// Call Harden once, before the server starts, and serve with [Server.Run]
// or through [Server.Listener].
func Harden(srv *http.Server, cfg Config) (*Server, error) {
	s := &Server{srv: srv, cfg: cfg, scrapeOK: make(chan struct{}), endpoints: cfg.Endpoints}
	if err := s.readFiles(&cfg); err != nil {
		return nil, err
	}
	if err := s.build(cfg); err != nil {
		return nil, err
	}
	app := srv.Handler
	if app == nil {
		app = http.DefaultServeMux
	}
	saved := save(srv)
	if err := s.apply(srv, cfg, app); err != nil {
		saved.restore(srv)
		return nil, err
	}
	return s, nil
}

// readFiles reads the certificates and client CAs cfg names.
func (s *Server) readFiles(cfg *Config) error {
	if len(cfg.ClientCAFiles) > 0 {
		if cfg.ClientCertificates.ClientCAs != nil {
			return errors.New("windhover: Config.ClientCAFiles and Config.ClientCertificates.ClientCAs are both set: give the roots one way")
		}
		pool := x509.NewCertPool()
		for _, name := range cfg.ClientCAFiles {
			pem, err := os.ReadFile(name)
			if err != nil {
				return section("ClientCAFiles", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("windhover: Config.ClientCAFiles: %s holds no PEM certificate", name)
			}
		}
		cfg.ClientCertificates.ClientCAs = pool
	}
	own := cfg.Certificate != (CertificateFiles{}) || len(cfg.SniCertificates) > 0
	for i, ep := range cfg.Endpoints {
		if ep.Certificate != (CertificateFiles{}) {
			if !ep.TLS {
				return fmt.Errorf("windhover: endpoint %s: a certificate is for https endpoints", ep.label(i))
			}
			own = true
		}
	}
	c := s.srv.TLSConfig
	theirs := c != nil && (len(c.Certificates) > 0 || c.GetCertificate != nil || c.GetConfigForClient != nil)
	for i, ep := range cfg.Endpoints {
		if ep.TLS && ep.Certificate == (CertificateFiles{}) && cfg.Certificate == (CertificateFiles{}) && len(cfg.SniCertificates) == 0 && !theirs {
			return fmt.Errorf("windhover: endpoint %s is https but has no certificate: give it Certificate, or give Config.Certificate or the server's TLSConfig one", ep.label(i))
		}
	}
	if !own {
		return nil
	}
	if c != nil && (len(c.Certificates) > 0 || c.GetCertificate != nil) {
		return errors.New("windhover: Config.Certificate (or an endpoint's or SniCertificates) and the server's TLSConfig both give certificates: give them one way")
	}
	var err error
	if s.files, err = loadCertificates(cfg.Certificate, cfg.SniCertificates, cfg.Endpoints); err != nil {
		return section("Certificate", err)
	}
	return nil
}

// build makes the policies; an error names the field of cfg.
func (s *Server) build(cfg Config) error {
	var err error
	lc := cfg.Limits
	lc.OnReject = chain(lc.OnReject, cfg.OnReject)
	if s.lim, err = limits.New(lc); err != nil {
		return section("Limits", err)
	}
	tc := cfg.Timeouts
	tc.OnReject = chain(tc.OnReject, cfg.OnReject)
	if s.pol, err = timeouts.New(tc); err != nil {
		return section("Timeouts", err)
	}
	hc := cfg.HostFiltering
	if len(hc.AllowedHosts) != 0 {
		return errors.New("windhover: Config.HostFiltering.AllowedHosts: leave it empty and set Config.AllowedHosts")
	}
	hc.AllowedHosts = cfg.AllowedHosts
	if len(hc.AllowedHosts) == 0 {
		hc.AllowedHosts = []string{"*"}
	}
	hc.OnReject = chain(hc.OnReject, cfg.OnReject)
	if s.hosts, err = hostfilter.New(hc); err != nil {
		return section("AllowedHosts", err)
	}
	cc := cfg.ClientCertificates
	cc.OnReject = chain(cc.OnReject, cfg.OnReject)
	if s.certs, err = certauth.New(cc); err != nil {
		return section("ClientCertificates", err)
	}
	if cfg.RateLimit != nil {
		rc := *cfg.RateLimit
		rc.OnReject = chain(rc.OnReject, cfg.OnReject)
		if s.rate, err = limits.NewRateLimiter(rc); err != nil {
			return section("RateLimit", err)
		}
	}
	if cfg.Concurrency != nil {
		cc := *cfg.Concurrency
		cc.OnReject = chain(cc.OnReject, cfg.OnReject)
		if s.conc, err = limits.NewConcurrencyLimiter(cc); err != nil {
			return section("Concurrency", err)
		}
	}
	if s.group, err = graceful.New(cfg.Shutdown); err != nil {
		return section("Shutdown", err)
	}
	if s.met, err = metrics.New(cfg.Metrics); err != nil {
		return section("Metrics", err)
	}
	seen := map[string]string{}
	for _, p := range []struct{ field, path string }{{"LivePath", cfg.LivePath}, {"ReadyPath", cfg.ReadyPath}, {"MetricsPath", cfg.MetricsPath}} {
		switch {
		case p.path == "":
		case p.path[0] != '/':
			return fmt.Errorf("windhover: Config.%s = %q: must start with /", p.field, p.path)
		case seen[p.path] != "":
			return fmt.Errorf("windhover: Config.%s and Config.%s are both %q", seen[p.path], p.field, p.path)
		default:
			seen[p.path] = p.field
		}
	}
	return nil
}

// section prefixes a policy's error with the Config field it came from.
func section(field string, err error) error {
	return fmt.Errorf("windhover: Config.%s: %w", field, err)
}

// chain returns a callback calling first, then then; nil if both are nil.
func chain(first, then func(*http.Request, error)) func(*http.Request, error) {
	switch {
	case first == nil:
		return then
	case then == nil:
		return first
	}
	return func(r *http.Request, err error) {
		first(r, err)
		then(r, err)
	}
}

// apply wraps app in the policies and applies their settings to srv.
func (s *Server) apply(srv *http.Server, cfg Config, app http.Handler) error {
	if srv.TLSConfig == nil && s.files == nil && cfg.ClientCertificates.AsksForCertificates() && len(cfg.ClientCertificates.TrustedProxies) == 0 {
		return errors.New("windhover: Config.ClientCertificates asks for client certificates, but the server has no TLSConfig: " +
			"give srv a TLSConfig or Config.Certificate, or set Config.ClientCertificates.TrustedProxies to take certificates forwarded by a proxy that terminates TLS")
	}
	// Outermost first: every request is counted for the drain and
	// measured; then refused as cheaply as possible, a flooding client
	// before it can take a slot of the concurrency limit.
	//
	// The chain reads the clock twice a request, not once in each policy
	// that needs the time: metrics reads it on arrival and the rate limiter
	// decides with that reading, as nothing between them waits; timeouts
	// reads it once the application has returned, and metrics ends the
	// duration there, as nothing after does more than its own bookkeeping,
	// except a refusal the limits handler makes of a body nobody read,
	// which calls OnReject and so clears that reading (Readings.Late).
	// That holds for this chain only, which is why sharing is off in the
	// policies unless clock.Share turns it on.
	h := s.pol.Handler(app)
	s.share(h)
	h = s.certs.Handler(h)
	if s.conc != nil {
		h = s.conc.Handler(h)
	}
	h = s.lim.Handler(h)
	if s.rate != nil {
		h = s.rate.Handler(h)
		s.share(h)
	}
	h = s.hosts.Handler(h)
	if cfg.LivePath != "" || cfg.ReadyPath != "" || cfg.MetricsPath != "" {
		paths := make(map[string]http.Handler, 3)
		// The probes are under the limits on sizes and times, which bound
		// what a probe may send, and nothing else.
		if cfg.ReadyPath != "" {
			paths[cfg.ReadyPath] = s.lim.Handler(s.pol.Handler(s.routed(cfg.ReadyPath, s.group.ReadyHandler())))
		}
		if cfg.LivePath != "" {
			paths[cfg.LivePath] = s.lim.Handler(s.pol.Handler(s.routed(cfg.LivePath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "ok\n")
			}))))
		}
		if cfg.MetricsPath != "" {
			paths[cfg.MetricsPath] = s.hosts.Handler(s.lim.Handler(s.certs.Handler(s.pol.Handler(s.routed(cfg.MetricsPath, http.HandlerFunc(s.serveMetrics))))))
		}
		h = &exempt{next: h, paths: paths}
	}
	if cfg.Protocols != nil {
		if srv.Protocols != nil && srv.Protocols.String() != cfg.Protocols.String() {
			return fmt.Errorf("windhover: Config.Protocols = %v, but the server's Protocols = %v: leave one unset", cfg.Protocols, srv.Protocols)
		}
		p := *cfg.Protocols
		srv.Protocols = &p
	}
	if s.files != nil {
		c := &tls.Config{}
		if srv.TLSConfig != nil {
			c = srv.TLSConfig.Clone()
		}
		c.GetCertificate = s.files.getCertificate
		srv.TLSConfig = c
	}
	tlsConfig := srv.TLSConfig
	if err := s.applySettings(srv); err != nil {
		return err
	}
	measured := s.met.Handler(h)
	s.share(measured)
	g := grown{next: s.group.Handler(measured), logf: errorLog(srv)}
	if !cfg.StreamGoroutines {
		g.workers = new(stack.Pool)
		srv.RegisterOnShutdown(g.workers.Close)
	}
	srv.Handler = g
	if tlsConfig != nil {
		srv.TLSConfig = s.met.TLSConfig(srv.TLSConfig)
	}
	return nil
}

// errorLog returns a Printf to srv's ErrorLog, or the log package's where
// it has none when called, as net/http logs a handler's panic.
func errorLog(srv *http.Server) func(format string, args ...any) {
	return func(format string, args ...any) {
		if l := srv.ErrorLog; l != nil {
			l.Printf(format, args...)
			return
		}
		log.Printf(format, args...)
	}
}

// share turns on the sharing of the clock's readings in h, and counts it.
func (s *Server) share(h http.Handler) {
	if clock.Share(h) {
		s.sharers++
	}
}

// applySettings runs every policy's Apply on srv, and reports every
// conflict at once.
func (s *Server) applySettings(srv *http.Server) error {
	var errs []error
	if srv.TLSConfig != nil {
		errs = append(errs, s.certs.Apply(srv))
	}
	errs = append(errs, s.hosts.Apply(srv), s.lim.Apply(srv), s.pol.Apply(srv), s.met.Apply(srv))
	return errors.Join(errs...)
}

// saved is what Harden may change on a server, to put back after a conflict.
type saved struct {
	handler           http.Handler
	tlsConfig         *tls.Config
	readTimeout       time.Duration
	readHeaderTimeout time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	http2             *http.HTTP2Config
	disableOptions    bool
	connState         func(net.Conn, http.ConnState)
	connContext       func(context.Context, net.Conn) context.Context
	baseContext       func(net.Listener) context.Context
	errorLog          *log.Logger
	protocols         *http.Protocols
}

func save(srv *http.Server) saved {
	return saved{
		handler:           srv.Handler,
		tlsConfig:         srv.TLSConfig,
		readTimeout:       srv.ReadTimeout,
		readHeaderTimeout: srv.ReadHeaderTimeout,
		writeTimeout:      srv.WriteTimeout,
		idleTimeout:       srv.IdleTimeout,
		maxHeaderBytes:    srv.MaxHeaderBytes,
		http2:             srv.HTTP2,
		disableOptions:    srv.DisableGeneralOptionsHandler,
		connState:         srv.ConnState,
		connContext:       srv.ConnContext,
		baseContext:       srv.BaseContext,
		errorLog:          srv.ErrorLog,
		protocols:         srv.Protocols,
	}
}

func (v saved) restore(srv *http.Server) {
	srv.Handler = v.handler
	srv.TLSConfig = v.tlsConfig
	srv.ReadTimeout = v.readTimeout
	srv.ReadHeaderTimeout = v.readHeaderTimeout
	srv.WriteTimeout = v.writeTimeout
	srv.IdleTimeout = v.idleTimeout
	srv.MaxHeaderBytes = v.maxHeaderBytes
	srv.HTTP2 = v.http2
	srv.DisableGeneralOptionsHandler = v.disableOptions
	srv.ConnState = v.connState
	srv.ConnContext = v.connContext
	srv.BaseContext = v.baseContext
	srv.ErrorLog = v.errorLog
	srv.Protocols = v.protocols
}

// exempt serves the requests for a few exact paths with their own handlers,
// and every other request with next.
type exempt struct {
	next  http.Handler
	paths map[string]http.Handler
}

// HandlesOptionsStar says that exempt hands "OPTIONS *" on to the policies
// behind it (see the package documentation).
func (e *exempt) HandlesOptionsStar() {}

func (e *exempt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := e.paths[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	e.next.ServeHTTP(w, r)
}

// routed serves h as the route path in the HTTP metrics (http_route), as a
// ServeMux's pattern names the application's routes: the path, matched
// exactly by exempt, is the pattern, set on the request as a ServeMux sets
// it.
func (s *Server) routed(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = path
		h.ServeHTTP(w, r)
	})
}

// serveMetrics serves Config.MetricsPath: the registry given to Register,
// or 503 until it is given.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.scrapeOK:
		s.scrape.ServeHTTP(w, r)
	default:
		http.Error(w, "metrics not registered", http.StatusServiceUnavailable)
	}
}

// maxScrapes bounds the scrapes of Config.MetricsPath served at once: each
// gathers every collector.
const maxScrapes = 4

// Listener returns ln with the connection limits (MaxConcurrentConnections
// and MaxConnectionsPerClient, counted before any TLS handshake) and the
// protections measured on the
// bytes of each plaintext HTTP/1 connection, as Kestrel measures them: the
// request line, header and body sizes counted as sent, malformed heads
// refused at once (limits.Limiter.Listener), and the keep-alive timeout until
// a request's first byte, then the request-headers timeout, with 408 for a
// late head (timeouts.Policy.Listener). Serve srv on it, or let [Server.Run]
// wrap the listeners it is given.
func (s *Server) Listener(ln net.Listener) net.Listener {
	// The connection limit first, so that a connection over it is refused
	// before anything is read; then one wrapper on each plaintext
	// connection, which both policies share, measures each head once.
	return s.pol.Listener(s.lim.Listener(ln))
}

// Limiter returns the limits policy, for connections that no listener of
// the Server accepts: [limits.Limiter.AcquireConnection] counts them under
// the same MaxConcurrentConnections and MaxConnectionsPerClient (HTTP/3's
// QUIC connections, say).
func (s *Server) Limiter() *limits.Limiter { return s.lim }

// Metrics returns the HTTP metrics, for what a router other than the
// ServeMux needs to report its routes: chi's cr.Use(s.Metrics().Route),
// gorilla/mux's RouteFunc (see [metrics.Metrics.Route]).
func (s *Server) Metrics() *metrics.Metrics { return s.met }

// Collectors returns the Prometheus collectors of every policy, and of the
// HTTP metrics.
func (s *Server) Collectors() []prometheus.Collector {
	return append([]prometheus.Collector{s.met}, s.policyCollectors()...)
}

// policyCollectors are the collectors of every policy.
func (s *Server) policyCollectors() []prometheus.Collector {
	cs := []prometheus.Collector{
		s.met.Limits(s.lim, ""), s.met.Timeouts(s.pol, ""), s.met.HostFilter(s.hosts, ""),
		s.met.CertAuth(s.certs, ""), s.met.Graceful(s.group, ""),
	}
	if s.rate != nil {
		cs = append(cs, s.met.Rate(s.rate, ""))
	}
	if s.conc != nil {
		cs = append(cs, s.met.Concurrency(s.conc, ""))
	}
	return cs
}

// Register registers every collector of [Server.Collectors] with reg, and
// makes Config.MetricsPath serve reg if it is also a prometheus.Gatherer (a
// *prometheus.Registry is). Call it once.
func (s *Server) Register(reg prometheus.Registerer) error {
	if err := s.met.Register(reg, s.policyCollectors()...); err != nil {
		return err
	}
	s.reg = reg
	if g, ok := reg.(prometheus.Gatherer); ok && s.scrape == nil {
		s.scrape = promhttp.HandlerFor(g, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapes})
		close(s.scrapeOK)
	}
	return nil
}

// Bound is a listener [Server.Listen] opened: its endpoint and address.
type Bound struct {
	Endpoint Endpoint
	Addr     net.Addr
}

// URL returns the address as a URL: http:// or https:// and the host and
// port, or unix: and the socket's path.
func (b Bound) URL() string {
	switch {
	case b.Addr.Network() == "unix":
		return "unix:" + b.Addr.String()
	case b.Endpoint.TLS:
		return "https://" + b.Addr.String()
	}
	return "http://" + b.Addr.String()
}

// Listen opens the listeners of Config.Endpoints, so that their addresses
// are known before [Server.Run] serves them (an endpoint on port 0, say);
// Run calls it if it was not. It returns what it listens on, endpoint by
// endpoint, a localhost endpoint's two loopback addresses one after the
// other.
func (s *Server) Listen() ([]Bound, error) {
	if !s.listened {
		s.listened = true
		activated := activate(s.endpoints)
		fail := func(err error) ([]Bound, error) {
			for _, l := range s.lns {
				l.ln.Close()
			}
			activated.close()
			s.lns, s.bound = nil, nil
			return nil, err
		}
		for i, ep := range s.endpoints {
			lns, err := ep.listen(activated)
			if err != nil {
				return fail(fmt.Errorf("windhover: endpoint %s: %w", ep.label(i), err))
			}
			for _, ln := range lns {
				s.lns = append(s.lns, listening{ln, ep.TLS})
				s.bound = append(s.bound, Bound{ep, ln.Addr()})
				if s.files != nil {
					s.files.bind(i, ln.Addr())
				}
			}
		}
		if err := activated.unclaimed(); err != nil {
			return fail(fmt.Errorf("windhover: %w", err))
		}
	}
	return s.bound, nil
}

// Plaintext marks ln for [Server.Run] to serve without TLS, even if the
// server has a certificate: a Unix socket behind a proxy that terminates
// TLS, say.
func Plaintext(ln net.Listener) net.Listener { return plaintext{ln} }

type plaintext struct{ net.Listener }

// Unwrap returns the listener Plaintext marked.
func (p plaintext) Unwrap() net.Listener { return p.Listener }

// Run serves the server until ctx ends or SIGINT or SIGTERM arrives
// (Config.Shutdown.Signals), then drains it in Kestrel's sequence (see
// [graceful]), and returns nil after a clean drain.
//
// It serves on the listeners given, each wrapped by [Server.Listener], with
// TLS if the server's TLSConfig has a certificate (Certificates,
// GetCertificate or GetConfigForClient, or Config.Certificate); given none,
// on Config.Endpoints, each with TLS if it is https; without endpoints, on
// TCP at the server's Addr.
func (s *Server) Run(ctx context.Context, lns ...net.Listener) error {
	serve := make([]listening, 0, len(lns))
	for _, ln := range lns {
		if p, ok := ln.(plaintext); ok {
			serve = append(serve, listening{p.Listener, false})
		} else {
			serve = append(serve, listening{ln, s.servesTLS()})
		}
	}
	if len(lns) == 0 && len(s.endpoints) > 0 {
		if _, err := s.Listen(); err != nil {
			return err
		}
		serve = s.lns
	}
	if len(serve) == 0 {
		addr := s.srv.Addr
		if addr == "" {
			addr = ":http"
			if s.servesTLS() {
				addr = ":https"
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		serve = append(serve, listening{ln, s.servesTLS()})
	}
	for _, l := range serve {
		if err := s.watch(l.ln); err != nil {
			return err
		}
		if l.tls {
			s.offerH2()
			s.group.AddTLS(s.srv, s.Listener(l.ln), "", "")
		} else {
			s.group.Add(s.srv, s.Listener(l.ln))
		}
	}
	return s.group.Run(ctx)
}

// offerH2 names "h2" in the server's TLSConfig if the server speaks HTTP/2
// over TLS. net/http sets HTTP/2 up once a server, at its first Serve or
// ServeTLS, and a plaintext Serve that comes first sets it up only if the
// TLSConfig names "h2" (golang/go#15908): without it, a server served on
// plaintext and TLS listeners at once, as an http and an https endpoint
// are, would speak HTTP/2 over TLS or not by which listener started first.
func (s *Server) offerH2() {
	c := s.srv.TLSConfig
	if p := s.srv.Protocols; c == nil || (p != nil && !p.HTTP2()) || slices.Contains(c.NextProtos, "h2") {
		return
	}
	c.NextProtos = append(slices.Clone(c.NextProtos), "h2")
}

// watch registers the metrics of a Unix socket served, with the registry
// given to Register.
func (s *Server) watch(ln net.Listener) error {
	u, ok := ln.(*unixsock.Listener)
	if !ok || s.reg == nil {
		return nil
	}
	return s.reg.Register(s.met.UnixSocket(u))
}

// ClientCertificates returns the client certificate policy, for its
// per-route Require (403 without a validated certificate) and Check.
func (s *Server) ClientCertificates() *certauth.Policy { return s.certs }

// servesTLS reports whether the server has what it needs to serve TLS.
func (s *Server) servesTLS() bool {
	c := s.srv.TLSConfig
	return c != nil && (len(c.Certificates) > 0 || c.GetCertificate != nil || c.GetConfigForClient != nil)
}

// HTTPServer returns the server Harden hardened: its Handler is the
// composed chain of policies, its TLSConfig carries the certificates and the
// client certificate policy, its timeouts and MaxHeaderBytes are the
// policies'. It is for serving the same protections elsewhere (HTTP/3 beside
// TCP, say); change nothing on it once the server serves.
func (s *Server) HTTPServer() *http.Server { return s.srv }

// Config returns the Config given to [Harden], for serving its limits
// elsewhere (HTTP/3 beside TCP, say).
func (s *Server) Config() Config { return s.cfg }

// Group returns the lifecycle that [Server.Run] drives: its Stopping and
// Stopped channels, OnStopping hooks, and the drain's Report.
func (s *Server) Group() *graceful.Group { return s.group }

// Stats is a snapshot of every policy's counters.
type Stats struct {
	Limits      limits.Stats
	Timeouts    timeouts.Stats
	HostFilter  hostfilter.Stats
	CertAuth    certauth.Stats
	Rate        limits.RateStats        // zero without Config.RateLimit
	Concurrency limits.ConcurrencyStats // zero without Config.Concurrency
	Shutdown    graceful.Stats
	// Certificates counts the reloads of Config.Certificate and
	// SniCertificates.
	Certificates CertificateStats
}

// Stats returns every policy's counters. It is safe to call at any time.
func (s *Server) Stats() Stats {
	st := Stats{
		Limits: s.lim.Stats(), Timeouts: s.pol.Stats(), HostFilter: s.hosts.Stats(),
		CertAuth: s.certs.Stats(), Shutdown: s.group.Stats(),
	}
	if s.rate != nil {
		st.Rate = s.rate.Stats()
	}
	if s.conc != nil {
		st.Concurrency = s.conc.Stats()
	}
	if s.files != nil {
		st.Certificates = s.files.stats()
	}
	return st
}

// grown is the composed handler, served on a worker goroutine whose stack
// has grown already when the request came on a new goroutine (HTTP/2 and
// HTTP/3 streams): see internal/stack. logf reports a panic's stack on the
// worker, before the panic is raised again on the stream's goroutine.
type grown struct {
	next    http.Handler
	workers *stack.Pool // nil with Config.StreamGoroutines
	logf    func(format string, args ...any)
}

func (g grown) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor >= 2 {
		if g.workers != nil {
			g.workers.Serve(g.next, w, r, g.logf)
			return
		}
		stack.Grow() // once at the top rather than deep in the chain
	}
	g.next.ServeHTTP(w, r)
}
