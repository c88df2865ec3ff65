package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// options are the server's settings: a -config file's, then the flags'.
type options struct {
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
	bodyRate        timeouts.Rate
	responseRate    timeouts.Rate
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
	config          string
}

func defaultOptions() options {
	return options{addr: "127.0.0.1:8080", allowedHosts: "localhost;127.0.0.1;[::1]", shutdownTimeout: 30 * time.Second}
}

// parseFlags reads the flags, and the -config file they name, whose
// settings the flags override.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	// A first, silent pass into a scratch copy finds -config; the second
	// parses over the file's settings, so that flags given override them.
	o, first := defaultOptions(), defaultOptions()
	if newFlagSet(&first, io.Discard).Parse(args) == nil && first.config != "" {
		if err := loadConfig(first.config, &o); err != nil {
			return o, err
		}
	}
	fs := newFlagSet(&o, stderr)
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err == nil {
		// The file's AllowedHosts was checked as it was read.
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "allowed-hosts" {
				err = checkAllowedHosts("-allowed-hosts", o.allowedHosts)
			}
		})
	}
	if err == nil && (o.tlsCert == "") != (o.tlsKey == "") {
		err = errors.New("-tls-cert and -tls-key go together")
	}
	if err == nil && o.addr == "" && o.unix == "" {
		err = errors.New("nothing to listen on: -addr and -unix are both empty")
	}
	return o, err
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, "config", o.config, "a JSON file of settings with Kestrel's names (see README); flags override it")
	fs.StringVar(&o.addr, "addr", o.addr, `TCP address to listen on ("" for none)`)
	fs.StringVar(&o.unix, "unix", o.unix, "also listen on this Unix socket path")
	fs.StringVar(&o.tlsCert, "tls-cert", o.tlsCert, "PEM certificate file: serve TLS on -addr (HTTP/1.1 and HTTP/2 by ALPN)")
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
		case v == -1:
			o.bodyRate, o.responseRate = timeouts.Off, timeouts.Off
			return nil
		case !(v > 0) || math.IsInf(v, 0):
			return errors.New("must be a positive number of bytes per second, or -1 for off")
		}
		o.bodyRate.BytesPerSecond, o.responseRate.BytesPerSecond = v, v
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
		o.bodyRate.GracePeriod, o.responseRate.GracePeriod = v, v
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

// checkAllowedHosts refuses, naming the setting as the user wrote it, an
// AllowedHosts list the host filter would refuse.
func checkAllowedHosts(name, hosts string) error {
	if _, err := hostfilter.New(hostfilter.Config{AllowedHosts: hostfilter.ParseAllowedHosts(hosts)}); err != nil {
		return fmt.Errorf("%s %q: %w", name, hosts, err)
	}
	return nil
}

// fileConfig is the -config file: Kestrel's names, as in an ASP.NET Core
// appsettings.json "Kestrel" section.
type fileConfig struct {
	// Limits is KestrelServerLimits, with Kestrel's meanings: null for
	// "no limit" where Kestrel's option is nullable, 0 upgraded connections
	// for none, a body size of 0 for no body at all, a null data rate for
	// off; what Kestrel refuses (a BytesPerSecond of 0, a size or timeout
	// of 0) is refused too.
	Limits struct {
		MaxConcurrentConnections         nullable[int]
		MaxConcurrentUpgradedConnections nullable[int]
		MaxRequestBodySize               nullable[int64]
		MaxRequestLineSize               *int
		MaxRequestHeadersTotalSize       *int
		MaxRequestHeaderCount            *int
		KeepAliveTimeout                 *duration
		RequestHeadersTimeout            *duration
		MinRequestBodyDataRate           nullable[fileRate]
		MinResponseDataRate              nullable[fileRate]
	}
	AllowedHosts *string
	// RateLimiter and ConcurrencyLimiter are ASP.NET Core's rate limiting
	// middleware options, in the form this server takes them.
	RateLimiter *struct {
		PermitsPerSecond float64
		Burst            int
	}
	ConcurrencyLimiter *struct {
		PermitLimit int
		QueueLimit  int
	}
	// ClientCertificateMode is Kestrel's HttpsDefaults.ClientCertificateMode:
	// NoCertificate, AllowCertificate or RequireCertificate.
	ClientCertificateMode *string
	// Sni is Kestrel's per-server-name endpoint configuration, of which
	// only ClientCertificateMode is read.
	Sni             map[string]struct{ ClientCertificateMode string }
	ShutdownTimeout *duration
	// DrainDelay is not Kestrel's: how long to go on serving after the
	// stop signal (aspnetcore #30387).
	DrainDelay *duration
}

// nullable is a JSON value that may be absent (set is false), null, or
// there. A value that does not decode is kept as err, for loadConfig to
// report under the setting's name.
type nullable[T any] struct {
	set, null bool
	v         T
	err       error
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		n.null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	n.err = dec.Decode(&n.v)
	return nil
}

// fileRate is Kestrel's MinDataRate. BytesPerSecond must be there;
// GracePeriod may be left out for Kestrel's 5 s.
type fileRate struct {
	BytesPerSecond *float64
	GracePeriod    *duration
}

// duration reads a JSON string as Go writes durations ("130s") or as .NET
// writes a TimeSpan ("00:02:10", "1.00:00:00"). One that does not parse is
// kept as err, for loadConfig to report under the setting's name.
type duration struct {
	d   time.Duration
	err error
}

func (d *duration) UnmarshalJSON(b []byte) error {
	d.d, d.err = parseDuration(b)
	return nil
}

func parseDuration(b []byte) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("%s is not a duration: write a string such as \"30s\" or \"00:00:30\"", b)
	}
	if v, err := time.ParseDuration(s); err == nil {
		return v, nil
	}
	return parseTimeSpan(s)
}

// parseTimeSpan parses .NET's "[d.]hh:mm:ss[.fffffff]".
func parseTimeSpan(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is neither a Go duration nor a TimeSpan (hh:mm:ss)", s)
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 || n > 36500 { // a century, well inside time.Duration
			return 0, bad
		}
		days, s = n, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 8)
	m, err2 := strconv.ParseUint(parts[1], 10, 8)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec < 0 || sec >= 60 {
		return 0, bad
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second)), nil
}

// loadConfig reads the -config file into o. Every value is checked with
// Kestrel's meaning, and every one that is wrong is reported with its JSON
// path, such as Limits.MaxRequestBodySize.
func loadConfig(path string, o *options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c fileConfig
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("-config %s: %w", path, jsonError("", err))
	}
	o.config = path
	if errs := c.apply(o); len(errs) > 0 {
		return fmt.Errorf("-config %s: %w", path, errors.Join(errs...))
	}
	return nil
}

// apply puts c's settings into o, and returns what is wrong with them.
func (c *fileConfig) apply(o *options) []error {
	var errs []error
	bad := func(path string, v any, problem string) {
		errs = append(errs, fmt.Errorf("%s = %v %s", path, v, problem))
	}
	failed := func(path string, err error) bool {
		if err != nil {
			errs = append(errs, jsonError(path, err))
		}
		return err != nil
	}
	l := &c.Limits
	if n, p := l.MaxConcurrentConnections, "Limits.MaxConcurrentConnections"; n.set && !failed(p, n.err) {
		switch {
		case n.null:
			o.maxConns = 0 // no limit
		case n.v <= 0:
			bad(p, n.v, "must be positive: Kestrel would refuse every connection (null means no limit)")
		default:
			o.maxConns = n.v
		}
	}
	if n, p := l.MaxConcurrentUpgradedConnections, "Limits.MaxConcurrentUpgradedConnections"; n.set && !failed(p, n.err) {
		switch {
		case n.null:
			o.maxUpgraded = 0 // no limit
		case n.v == 0:
			o.maxUpgraded = limits.NoUpgrades // Kestrel's 0: none
		case n.v < 0:
			bad(p, n.v, "must not be negative (0 means no upgrades, null no limit)")
		default:
			o.maxUpgraded = n.v
		}
	}
	if n, p := l.MaxRequestBodySize, "Limits.MaxRequestBodySize"; n.set && !failed(p, n.err) {
		switch {
		case n.null:
			o.maxBody = limits.Unlimited
		case n.v == 0:
			o.maxBody = limits.NoBody // Kestrel's 0: no body at all
		case n.v < 0:
			bad(p, n.v, "must not be negative (0 means no body at all, null no limit)")
		default:
			o.maxBody = n.v
		}
	}
	for _, f := range []struct {
		path string
		v    *int
		dst  *int
	}{
		{"Limits.MaxRequestLineSize", l.MaxRequestLineSize, &o.maxLine},
		{"Limits.MaxRequestHeadersTotalSize", l.MaxRequestHeadersTotalSize, &o.maxHeaderBytes},
		{"Limits.MaxRequestHeaderCount", l.MaxRequestHeaderCount, &o.maxHeaderCount},
	} {
		if f.v != nil && *f.v <= 0 {
			bad(f.path, *f.v, "must be positive")
		} else if f.v != nil {
			*f.dst = *f.v
		}
	}
	for _, f := range []struct {
		path     string
		v        *duration
		dst      *time.Duration
		positive bool
	}{
		{"Limits.KeepAliveTimeout", l.KeepAliveTimeout, &o.keepAlive, true},
		{"Limits.RequestHeadersTimeout", l.RequestHeadersTimeout, &o.headerTimeout, true},
		{"ShutdownTimeout", c.ShutdownTimeout, &o.shutdownTimeout, false},
		{"DrainDelay", c.DrainDelay, &o.drainDelay, false},
	} {
		switch {
		case f.v == nil || failed(f.path, f.v.err):
		case f.positive && f.v.d <= 0:
			bad(f.path, f.v.d, "must be positive")
		case f.v.d < 0:
			bad(f.path, f.v.d, "must not be negative")
		default:
			*f.dst = f.v.d
		}
	}
	c.rate("Limits.MinRequestBodyDataRate", l.MinRequestBodyDataRate, &o.bodyRate, bad, failed)
	c.rate("Limits.MinResponseDataRate", l.MinResponseDataRate, &o.responseRate, bad, failed)
	if h := c.AllowedHosts; h != nil {
		if err := checkAllowedHosts("AllowedHosts", *h); err != nil {
			errs = append(errs, err)
		} else {
			o.allowedHosts = *h
		}
	}
	if r := c.RateLimiter; r != nil {
		switch {
		case !(r.PermitsPerSecond >= 0):
			bad("RateLimiter.PermitsPerSecond", r.PermitsPerSecond, "must not be negative (0 means no rate limit)")
		case r.Burst < 0:
			bad("RateLimiter.Burst", r.Burst, "must not be negative (0 means PermitsPerSecond, rounded up)")
		default:
			o.rate, o.burst = r.PermitsPerSecond, r.Burst
		}
	}
	if cl := c.ConcurrencyLimiter; cl != nil {
		switch {
		case cl.PermitLimit < 0:
			bad("ConcurrencyLimiter.PermitLimit", cl.PermitLimit, "must not be negative (0 means no limit)")
		case cl.QueueLimit < 0:
			bad("ConcurrencyLimiter.QueueLimit", cl.QueueLimit, "must not be negative (0 means no queue)")
		default:
			o.maxConcurrent, o.queue = cl.PermitLimit, cl.QueueLimit
		}
	}
	if m := c.ClientCertificateMode; m != nil {
		if _, err := parseMode(*m); err != nil {
			bad("ClientCertificateMode", strconv.Quote(*m), "is not NoCertificate, AllowCertificate or RequireCertificate")
		} else {
			o.clientCertMode = *m
		}
	}
	if len(c.Sni) > 0 {
		var hosts []string
		for name, sni := range c.Sni {
			if _, err := parseMode(sni.ClientCertificateMode); err != nil {
				bad("Sni."+name+".ClientCertificateMode", strconv.Quote(sni.ClientCertificateMode), "is not NoCertificate, AllowCertificate or RequireCertificate")
			}
			hosts = append(hosts, name+"="+sni.ClientCertificateMode)
		}
		sort.Strings(hosts)
		o.clientCertHosts = strings.Join(hosts, ";")
	}
	return errs
}

// rate reads a minimum data rate as Kestrel does: null switches it off, and
// BytesPerSecond must be positive (Kestrel's MinDataRate refuses 0). Unlike
// Kestrel, whose 1-second heartbeat makes it refuse a GracePeriod of a
// second or less, any positive GracePeriod is taken: windhover measures
// exactly.
func (c *fileConfig) rate(path string, r nullable[fileRate], dst *timeouts.Rate,
	bad func(path string, v any, problem string), failed func(path string, err error) bool) {
	switch {
	case !r.set || failed(path, r.err):
		return
	case r.null:
		*dst = timeouts.Off
		return
	}
	v := timeouts.Rate{}
	switch bps := r.v.BytesPerSecond; {
	case bps == nil:
		bad(path+".BytesPerSecond", "(missing)", "must be given (to switch the rate off, make "+path+" null)")
		return
	case !(*bps > 0):
		bad(path+".BytesPerSecond", *bps, "must be positive (to switch the rate off, make "+path+" null)")
		return
	default:
		v.BytesPerSecond = *bps
	}
	if g, gp := r.v.GracePeriod, path+".GracePeriod"; g != nil {
		switch {
		case failed(gp, g.err):
			return
		case g.d <= 0:
			bad(gp, g.d, "must be positive")
			return
		}
		v.GracePeriod = g.d
	}
	*dst = v
}

// jsonError names the setting at path (the root if empty) in err, an error
// decoding it: a JSON value of the wrong type names its own path within it.
func jsonError(path string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" && path != "" {
			path += "." + te.Field
		} else if te.Field != "" {
			path = te.Field
		}
		return fmt.Errorf("%s: got a JSON %s, want %v", path, te.Value, te.Type)
	}
	if path == "" {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}
