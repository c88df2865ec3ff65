package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

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
	fs.IntVar(&o.maxConns, "max-conns", o.maxConns, "most connections open at once (0: no limit)")
	fs.IntVar(&o.maxUpgraded, "max-upgraded", o.maxUpgraded, "most upgraded connections at once (0: no limit, -1: no upgrades)")
	fs.Int64Var(&o.maxBody, "max-body", o.maxBody, "largest request body in bytes (0: 30,000,000, Kestrel's default; -1: no limit)")
	fs.IntVar(&o.maxLine, "max-request-line", o.maxLine, "longest request line in bytes (0: 8,192, Kestrel's default)")
	fs.IntVar(&o.maxHeaderBytes, "max-headers-size", o.maxHeaderBytes, "most bytes of request header fields (0: 32,768, Kestrel's default)")
	fs.IntVar(&o.maxHeaderCount, "max-header-count", o.maxHeaderCount, "most request header fields (0: 100, Kestrel's default)")
	fs.Func("min-rate", "minimum bytes per second for request bodies and responses (default 240, Kestrel's; -1: off)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		o.bodyRate.BytesPerSecond, o.responseRate.BytesPerSecond = v, v
		return err
	})
	fs.Func("min-rate-grace", "grace period before -min-rate applies (default 5s)", func(s string) error {
		v, err := time.ParseDuration(s)
		o.bodyRate.GracePeriod, o.responseRate.GracePeriod = v, v
		return err
	})
	fs.DurationVar(&o.keepAlive, "keepalive", o.keepAlive, "how long an idle keep-alive connection stays open (0: 130s)")
	fs.DurationVar(&o.headerTimeout, "header-timeout", o.headerTimeout, "how long a client may take to send a request header (0: 30s)")
	fs.Float64Var(&o.rate, "rate", o.rate, "requests per second per client, by address (behind -trusted-proxies, the forwarded one); 0: no rate limit")
	fs.IntVar(&o.burst, "burst", o.burst, "requests a client may make at once after a pause (0: -rate rounded up)")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", o.maxConcurrent, "most requests in the handlers at once (0: no limit)")
	fs.IntVar(&o.queue, "queue", o.queue, "requests that may wait for a slot beyond -max-concurrent, oldest first, for up to 5s")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", o.shutdownTimeout, "how long to wait for requests in flight on exit")
	fs.DurationVar(&o.drainDelay, "drain-delay", o.drainDelay, "how long to go on serving after a stop signal, with /readyz answering 503, before closing the listeners")
	fs.BoolVar(&o.bare, "bare", o.bare, "serve the same routes with none of the toolkit, for comparison")
	fs.BoolVar(&o.logJSON, "log-json", o.logJSON, "log JSON instead of text")
	return fs
}

// fileConfig is the -config file: Kestrel's names, as in an ASP.NET Core
// appsettings.json "Kestrel" section.
type fileConfig struct {
	// Limits is KestrelServerLimits, with Kestrel's meanings: null for
	// "no limit" where Kestrel's option is nullable, and 0 upgraded
	// connections for none.
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
// there.
type nullable[T any] struct {
	set, null bool
	v         T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		n.null = true
		return nil
	}
	return json.Unmarshal(b, &n.v)
}

type fileRate struct {
	BytesPerSecond float64
	GracePeriod    duration
}

// duration reads a JSON string as Go writes durations ("130s") or as .NET
// writes a TimeSpan ("00:02:10", "1.00:00:00").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"30s\" or \"00:00:30\"")
	}
	if v, err := time.ParseDuration(s); err == nil {
		*d = duration(v)
		return nil
	}
	v, err := parseTimeSpan(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
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

func loadConfig(path string, o *options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c fileConfig
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("-config %s: %w", path, err)
	}
	o.config = path
	l := c.Limits
	if n := l.MaxConcurrentConnections; n.set {
		o.maxConns = n.v // null: 0, no limit, here too
	}
	if n := l.MaxConcurrentUpgradedConnections; n.set {
		switch {
		case n.null:
			o.maxUpgraded = 0 // no limit
		case n.v == 0:
			o.maxUpgraded = limits.NoUpgrades // Kestrel's 0: none
		default:
			o.maxUpgraded = n.v
		}
	}
	if n := l.MaxRequestBodySize; n.set {
		o.maxBody = n.v
		if n.null {
			o.maxBody = -1 // no limit
		}
	}
	set(&o.maxLine, l.MaxRequestLineSize)
	set(&o.maxHeaderBytes, l.MaxRequestHeadersTotalSize)
	set(&o.maxHeaderCount, l.MaxRequestHeaderCount)
	setDuration(&o.keepAlive, l.KeepAliveTimeout)
	setDuration(&o.headerTimeout, l.RequestHeadersTimeout)
	set(&o.allowedHosts, c.AllowedHosts)
	if r := c.RateLimiter; r != nil {
		o.rate, o.burst = r.PermitsPerSecond, r.Burst
	}
	if cl := c.ConcurrencyLimiter; cl != nil {
		o.maxConcurrent, o.queue = cl.PermitLimit, cl.QueueLimit
	}
	set(&o.clientCertMode, c.ClientCertificateMode)
	if len(c.Sni) > 0 {
		var hosts []string
		for name, sni := range c.Sni {
			hosts = append(hosts, name+"="+sni.ClientCertificateMode)
		}
		sort.Strings(hosts)
		o.clientCertHosts = strings.Join(hosts, ";")
	}
	setDuration(&o.shutdownTimeout, c.ShutdownTimeout)
	setDuration(&o.drainDelay, c.DrainDelay)
	setRate(&o.bodyRate, l.MinRequestBodyDataRate)
	setRate(&o.responseRate, l.MinResponseDataRate)
	return nil
}

// setRate sets a minimum data rate: null switches it off, as in Kestrel.
func setRate(dst *timeouts.Rate, r nullable[fileRate]) {
	switch {
	case !r.set:
	case r.null:
		*dst = timeouts.Off
	default:
		*dst = timeouts.Rate{BytesPerSecond: r.v.BytesPerSecond, GracePeriod: time.Duration(r.v.GracePeriod)}
	}
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setDuration(dst *time.Duration, v *duration) {
	if v != nil {
		*dst = time.Duration(*v)
	}
}
