package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
	"golang.org/x/time/rate"
)

// defaultAllowedHosts is -allowed-hosts' default, for a file without
// AllowedHosts too: the names of this machine's loopback.
const defaultAllowedHosts = "localhost;127.0.0.1;[::1]"

// options are the flags' values. Those that are Kestrel's settings go into
// the windhover.Config (see settings.apply), the others are the example's.
type options struct {
	config          string
	addr            string
	unix            string
	tlsCert         string
	tlsKey          string
	h2c             bool
	allowedHosts    string
	clientCA        string
	clientCertMode  string
	clientCertHosts string
	trustedProxies  string
	maxConns        int
	maxUpgraded     int
	maxBody         int64
	maxHeaderCount  int
	maxLine         int
	maxHeaderBytes  int
	minRate         float64 // -1: off
	minRateGrace    time.Duration
	keepAlive       time.Duration
	headerTimeout   time.Duration
	rate            float64
	burst           int
	maxConcurrent   int
	queue           int
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	bare            bool
	logJSON         bool
}

func defaultOptions() options {
	return options{addr: "127.0.0.1:8080", allowedHosts: defaultAllowedHosts, shutdownTimeout: 30 * time.Second}
}

// settings are what the server runs with: the flags, and the Config of the
// -config file with the flags given on the command line put over it.
type settings struct {
	options
	cfg windhover.Config
	// set holds the names of the flags given on the command line.
	set map[string]bool
}

// parseFlags reads the flags and the -config file they name, an ASP.NET Core
// appsettings.json, into a windhover.Config; a flag given on the command
// line overrides the file's setting.
func parseFlags(args []string, stderr io.Writer) (settings, error) {
	// A first, silent pass finds -config; the second reads every flag, and
	// notes which were given, to put them over the file's settings.
	s := settings{options: defaultOptions(), set: map[string]bool{}}
	var first options
	if newFlagSet(&first, io.Discard).Parse(args) == nil && first.config != "" {
		var err error
		if s.cfg, err = windhover.LoadConfig(first.config); err != nil {
			return s, fmt.Errorf("-config: %w", err)
		}
	}
	fs := newFlagSet(&s.options, stderr)
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return s, errors.New("-tls-cert and -tls-key go together")
	}
	if err := s.apply(); err != nil {
		return s, err
	}
	if s.flagListeners() && s.addr == "" && s.unix == "" {
		return s, errors.New("nothing to listen on: -addr and -unix are both empty")
	}
	return s, nil
}

// flagListeners reports whether the server listens where -addr and -unix
// say: always, unless the file has Kestrel.Endpoints and neither flag is
// given on the command line.
func (s *settings) flagListeners() bool {
	return len(s.cfg.Endpoints) == 0 || s.set["addr"] || s.set["unix"]
}

// apply puts the flags given on the command line over the file's settings,
// each onto the Config field that is its Kestrel setting, and fills in what
// neither gave with the example's defaults.
func (s *settings) apply() error {
	c, set := &s.cfg, s.set
	if len(c.Endpoints) > 0 && (set["addr"] || set["unix"]) {
		// -addr and -unix replace the file's endpoints; the first https
		// one's certificate, if the file has no default, stays the
		// server's, so that -addr serves TLS as the file did.
		for _, ep := range c.Endpoints {
			if ep.Certificate != (windhover.CertificateFiles{}) && c.Certificate == (windhover.CertificateFiles{}) {
				c.Certificate = ep.Certificate
			}
		}
		c.Endpoints = nil
	}
	if set["tls-cert"] {
		c.Certificate = windhover.CertificateFiles{CertFile: s.tlsCert, KeyFile: s.tlsKey}
	}
	if set["h2c"] {
		p := http.Protocols{}
		if c.Protocols != nil {
			p = *c.Protocols
		} else {
			p.SetHTTP1(true)
			p.SetHTTP2(true) // over TLS, with a certificate
		}
		p.SetUnencryptedHTTP2(s.h2c)
		c.Protocols = &p
	}
	if set["allowed-hosts"] || len(c.AllowedHosts) == 0 {
		c.AllowedHosts = hostfilter.ParseAllowedHosts(s.allowedHosts)
		if _, err := hostfilter.New(hostfilter.Config{AllowedHosts: c.AllowedHosts}); err != nil {
			return fmt.Errorf("-allowed-hosts %q: %w", s.allowedHosts, err)
		}
	}
	if set["client-ca"] {
		c.ClientCAFiles = nil
		if s.clientCA != "" {
			c.ClientCAFiles = []string{s.clientCA}
		}
	}
	var err error
	if set["client-cert-mode"] {
		if c.ClientCertificates.Mode, err = parseMode(s.clientCertMode); err != nil {
			return err
		}
	}
	if set["client-cert-hosts"] {
		if c.ClientCertificates.Hosts, err = parseHostModes(s.clientCertHosts); err != nil {
			return err
		}
	}
	if c.ClientCertificates.AsksForCertificates() && len(c.ClientCAFiles) == 0 {
		return errors.New("client certificates are asked for (-client-cert-mode, -client-cert-hosts or the file's ClientCertificateMode), " +
			"which need -client-ca (or the file's Windhover.ClientCertificates.ClientCAs), the CAs to validate them against")
	}

	l, t := &c.Limits, &c.Timeouts
	for name, v := range map[string]struct{ dst, flag *int }{
		"max-conns":        {&l.MaxConcurrentConnections, &s.maxConns},
		"max-upgraded":     {&l.MaxConcurrentUpgradedConnections, &s.maxUpgraded},
		"max-request-line": {&l.MaxRequestLineSize, &s.maxLine},
		"max-headers-size": {&l.MaxRequestHeadersTotalSize, &s.maxHeaderBytes},
		"max-header-count": {&l.MaxRequestHeaderCount, &s.maxHeaderCount},
	} {
		if set[name] {
			*v.dst = *v.flag
		}
	}
	if set["max-body"] {
		l.MaxRequestBodySize = s.maxBody
	}
	for name, v := range map[string]struct{ dst, flag *time.Duration }{
		"keepalive":        {&t.KeepAliveTimeout, &s.keepAlive},
		"header-timeout":   {&t.RequestHeadersTimeout, &s.headerTimeout},
		"shutdown-timeout": {&c.Shutdown.ShutdownTimeout, &s.shutdownTimeout},
		"drain-delay":      {&c.Shutdown.DrainDelay, &s.drainDelay},
	} {
		if set[name] {
			*v.dst = *v.flag
		}
	}
	for _, r := range []*timeouts.Rate{&t.MinRequestBodyDataRate, &t.MinResponseDataRate} {
		switch {
		case set["min-rate"] && s.minRate == -1:
			*r = timeouts.Off
		case set["min-rate"]:
			r.BytesPerSecond = s.minRate
		}
		if set["min-rate-grace"] {
			r.GracePeriod = s.minRateGrace
		}
	}

	if set["rate"] && s.rate == 0 {
		c.RateLimit = nil
	} else if set["rate"] {
		rc := limits.RateConfig{}
		if c.RateLimit != nil {
			rc = *c.RateLimit
		}
		rc.Rate = rate.Limit(s.rate)
		c.RateLimit = &rc
	}
	if set["burst"] && c.RateLimit != nil {
		rc := *c.RateLimit
		rc.Burst = s.burst
		c.RateLimit = &rc
	}
	if set["max-concurrent"] || set["queue"] {
		cc := limits.ConcurrencyConfig{}
		if c.Concurrency != nil {
			cc = *c.Concurrency
		}
		if set["max-concurrent"] {
			cc.MaxConcurrentRequests = s.maxConcurrent
		}
		if set["queue"] {
			cc.RequestQueueLimit = s.queue
		}
		c.Concurrency = &cc
		if cc.MaxConcurrentRequests == 0 && cc.RequestQueueLimit == 0 {
			c.Concurrency = nil // no limit, as without the flags
		}
	}
	if set["trusted-proxies"] {
		// The proxies are trusted for what each policy can use them for:
		// the client's address for the rate limiter, and, only where there
		// are CAs to validate it, the certificate a proxy forwards. Without
		// them certauth, trusting no proxy, removes X-Client-Cert from every
		// request, so that no handler takes it for one a proxy vouched for.
		proxies := splitList(s.trustedProxies)
		if c.RateLimit != nil {
			rc := *c.RateLimit
			rc.TrustedProxies = proxies
			c.RateLimit = &rc
		}
		if len(c.ClientCAFiles) > 0 {
			c.ClientCertificates.TrustedProxies = proxies
		}
	}

	if c.LivePath == "" {
		c.LivePath = healthzPath
	}
	if c.ReadyPath == "" {
		c.ReadyPath = readyzPath
	}
	if c.MetricsPath == "" {
		c.MetricsPath = metricsPath
	}
	return nil
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, "config", o.config, "an ASP.NET Core appsettings.json (Kestrel, AllowedHosts, Windhover; see README); flags given override it")
	fs.StringVar(&o.addr, "addr", o.addr, `TCP address to listen on ("" for none); given, or with -unix, instead of the file's Kestrel.Endpoints`)
	fs.StringVar(&o.unix, "unix", o.unix, "also listen on this Unix socket path")
	fs.StringVar(&o.tlsCert, "tls-cert", o.tlsCert, "PEM certificate file: serve TLS on -addr (HTTP/1.1 and HTTP/2 by ALPN), read again when it changes")
	fs.StringVar(&o.tlsKey, "tls-key", o.tlsKey, "PEM private key file for -tls-cert")
	fs.BoolVar(&o.h2c, "h2c", o.h2c, "accept prior-knowledge HTTP/2 without TLS")
	fs.StringVar(&o.allowedHosts, "allowed-hosts", o.allowedHosts, `hosts requests may name, ';'-separated ("*" for any; "*.example.com", CIDR prefixes)`)
	fs.StringVar(&o.clientCA, "client-ca", o.clientCA, "PEM file of the CAs client certificates chain to")
	fs.StringVar(&o.clientCertMode, "client-cert-mode", o.clientCertMode, "ask TLS clients for a certificate: none, allow or require (default none)")
	fs.StringVar(&o.clientCertHosts, "client-cert-hosts", o.clientCertHosts, `per-host modes by TLS server name, such as "api.example.com=require;*.example.com=allow"`)
	fs.StringVar(&o.trustedProxies, "trusted-proxies", o.trustedProxies, `';'-separated proxies (IPs, CIDR prefixes, "unix") whose X-Forwarded-For -rate believes, and whose X-Client-Cert is believed with -client-ca (without it, removed from every request)`)
	// Every number is checked as it is read, so that a bad one is refused
	// with the flag's name ("invalid value "-5" for flag -max-conns: ...").
	intVar(fs, &o.maxConns, "max-conns", 0, "most connections open at once (0: no limit)")
	intVar(fs, &o.maxUpgraded, "max-upgraded", -1, "most upgraded connections at once (0: no limit, -1: no upgrades)")
	fs.Func("max-body", "largest request body in bytes, as Kestrel's MaxRequestBodySize (default 30000000; 0: no body at all, -1: no limit)", func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			return errors.New("not a whole number of bytes")
		case n < -1:
			return errors.New("must be a number of bytes (0: no body at all), or -1 for no limit")
		case n == 0:
			n = limits.NoBody
		case n == -1:
			n = limits.Unlimited
		}
		o.maxBody = n
		return nil
	})
	intVar(fs, &o.maxLine, "max-request-line", 0, "longest request line in bytes (0: 8,192, Kestrel's default)")
	intVar(fs, &o.maxHeaderBytes, "max-headers-size", 0, "most bytes of request header fields (0: 32,768, Kestrel's default)")
	intVar(fs, &o.maxHeaderCount, "max-header-count", 0, "most request header fields (0: 100, Kestrel's default)")
	fs.Func("min-rate", "minimum bytes per second for request bodies and responses (default 240, Kestrel's; -1: off)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil:
			return errors.New("not a number")
		case v != -1 && (!(v > 0) || math.IsInf(v, 0)):
			return errors.New("must be a positive number of bytes per second, or -1 for off")
		}
		o.minRate = v
		return nil
	})
	fs.Func("min-rate-grace", "grace period before -min-rate applies (default 5s)", func(s string) error {
		v, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return errors.New(`not a duration such as "5s"`)
		case v <= 0:
			return errors.New("must be positive")
		}
		o.minRateGrace = v
		return nil
	})
	durationVar(fs, &o.keepAlive, "keepalive", "how long an idle keep-alive connection stays open (0: 130s)")
	durationVar(fs, &o.headerTimeout, "header-timeout", "how long a client may take to send a request header (0: 30s)")
	fs.Func("rate", "requests per second per client, by address (behind -trusted-proxies, the forwarded one); 0: no rate limit (the default)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil:
			return errors.New("not a number")
		case !(v >= 0) || math.IsInf(v, 0):
			return errors.New("must be a positive number of requests per second, or 0 for no rate limit")
		}
		o.rate = v
		return nil
	})
	intVar(fs, &o.burst, "burst", 0, "requests a client may make at once after a pause (0: -rate rounded up)")
	intVar(fs, &o.maxConcurrent, "max-concurrent", 0, "most requests in the handlers at once (0: no limit)")
	intVar(fs, &o.queue, "queue", 0, "requests that may wait for a slot beyond -max-concurrent, oldest first, for up to 5s")
	durationVar(fs, &o.shutdownTimeout, "shutdown-timeout", "how long to wait for requests in flight on exit (0: 30s)")
	durationVar(fs, &o.drainDelay, "drain-delay", "how long to go on serving after a stop signal, with /readyz answering 503, before closing the listeners")
	fs.BoolVar(&o.bare, "bare", o.bare, "serve the same routes with none of the toolkit, for comparison")
	fs.BoolVar(&o.logJSON, "log-json", o.logJSON, "log JSON instead of text")
	return fs
}

// intVar defines an int flag that refuses values below min.
func intVar(fs *flag.FlagSet, p *int, name string, min int, usage string) {
	fs.Var(&intFlag{p, min}, name, usage)
}

type intFlag struct {
	p   *int
	min int
}

func (f *intFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return errors.New("not a whole number")
	case n < f.min && f.min == 0:
		return errors.New("must not be negative")
	case n < f.min:
		return fmt.Errorf("must be at least %d", f.min)
	}
	*f.p = n
	return nil
}

// durationVar defines a duration flag that refuses negative values.
func durationVar(fs *flag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var((*durationFlag)(p), name, usage)
}

type durationFlag time.Duration

func (f *durationFlag) String() string {
	if f == nil {
		return "0s"
	}
	return time.Duration(*f).String()
}

func (f *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New(`not a duration such as "30s"`)
	case v < 0:
		return errors.New("must not be negative")
	}
	*f = durationFlag(v)
	return nil
}
