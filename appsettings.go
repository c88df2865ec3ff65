package windhover

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
	"golang.org/x/time/rate"
)

// LoadConfig reads an ASP.NET Core appsettings.json file into a Config; see
// [ParseConfig].
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("windhover: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads the sections of an ASP.NET Core appsettings.json that
// windhover has names for, with Kestrel's meanings, into a Config:
//
//   - "Kestrel": "Limits" (KestrelServerLimits and its "Http2"), and
//     "Endpoints", each with a "Url" (http://host:port, https://host:port,
//     http://systemd:name for sockets systemd passes,
//     http://unix:/path), "Protocols", a "Certificate" ("Path" and
//     "KeyPath", PEM files), "ClientCertificateMode" and "Sni" (per server
//     name: "Certificate", "ClientCertificateMode"); "EndpointDefaults"
//     ("Protocols", "ClientCertificateMode") and "Certificates" ("Default").
//   - "AllowedHosts": "example.com;*.example.com", as the host filtering
//     middleware reads it.
//   - "Windhover": what Kestrel has no name for: "MaxConnectionsPerClient"
//     with "ClientIPv4PrefixLength" and "ClientIPv6PrefixLength",
//     "MaxConnectionAge" (a TimeSpan), "MaxRequestsPerConnection",
//     "EnforceTimeoutsWhenDebugged" (true keeps Kestrel's timeouts and rates
//     on while a debugger is attached), "RateLimiter"
//     ("PermitsPerSecond", "Burst", "TrustedProxies"), "ConcurrencyLimiter"
//     ("PermitLimit", "QueueLimit"), "ClientCertificates" ("ClientCAs" and
//     "CRLFiles", PEM files, and "TrustedProxies"), "ShutdownTimeout",
//     "DrainDelay", "LivePath", "ReadyPath", "MetricsPath".
//
// Every other top-level section (Logging, ConnectionStrings ...) is the
// application's and is ignored. Within those three, a setting windhover does
// not know is an error rather than silently ignored, and so is a setting it
// cannot honour (an encrypted key, a certificate store, HTTP/3).
//
// Kestrel's meanings: durations are TimeSpans ("00:02:10", "1.00:00:00"; Go's
// "130s" is taken too); null means no limit where Kestrel's option is
// nullable (MaxConcurrentConnections, MaxConcurrentUpgradedConnections,
// MaxRequestBodySize, MaxResponseBufferSize) and switches a minimum data rate
// off; a MaxRequestBodySize of 0 allows no body at all and a
// MaxConcurrentUpgradedConnections of 0 no upgrade; what Kestrel refuses (a
// BytesPerSecond of 0, a size or timeout of 0) is refused too. A field left
// out keeps Kestrel's default. Every error names the setting by its JSON
// path, such as Kestrel.Limits.MaxRequestBodySize, and every wrong setting
// is reported at once.
func ParseConfig(data []byte) (Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Config{}, fmt.Errorf("windhover: %w", jsonError("", err))
	}
	var p parser
	var cfg Config
	for key, home := range misplaced {
		if _, ok := top[key]; ok {
			p.bad(key, "{...}", "is read under "+home+"."+key+": at the top of the file it would be ignored")
		}
	}
	var k kestrelSection
	var w windhoverSection
	if raw, ok := top["Kestrel"]; ok && p.decode("Kestrel", raw, &k) {
		p.kestrel(&k, &cfg)
	}
	if raw, ok := top["AllowedHosts"]; ok {
		var hosts string
		if p.decode("AllowedHosts", raw, &hosts) {
			cfg.AllowedHosts = hostfilter.ParseAllowedHosts(hosts)
			if _, err := hostfilter.New(hostfilter.Config{AllowedHosts: cfg.AllowedHosts}); err != nil {
				p.bad("AllowedHosts", strconv.Quote(hosts), err.Error())
			}
		}
	}
	if raw, ok := top["Windhover"]; ok && p.decode("Windhover", raw, &w) {
		p.windhover(&w, &cfg)
	}
	if err := errors.Join(p.errs...); err != nil {
		return Config{}, fmt.Errorf("windhover: %w", err)
	}
	return cfg, nil
}

// misplaced are settings of Kestrel's or windhover's sections that a file
// might put at its top, where the application's own sections are: refused,
// since they would otherwise be ignored.
var misplaced = map[string]string{
	"Limits": "Kestrel", "Endpoints": "Kestrel", "EndpointDefaults": "Kestrel", "Certificates": "Kestrel",
	"ClientCertificateMode": "Kestrel.Endpoints.<name>", "Sni": "Kestrel.Endpoints.<name>",
	"RateLimiter": "Windhover", "ConcurrencyLimiter": "Windhover", "ClientCertificates": "Windhover",
	"ShutdownTimeout": "Windhover", "DrainDelay": "Windhover", "LivePath": "Windhover",
	"ReadyPath": "Windhover", "MetricsPath": "Windhover",
}

// The sections, in the shape of appsettings.json.
type (
	kestrelSection struct {
		Limits           sub[limitsSection]
		Endpoints        map[string]sub[endpointSection]
		EndpointDefaults sub[endpointDefaults]
		Certificates     map[string]sub[certificateSection]
	}
	endpointDefaults struct {
		Protocols             *string
		ClientCertificateMode *string
	}
	limitsSection struct {
		MaxConcurrentConnections         nullable[int]
		MaxConcurrentUpgradedConnections nullable[int]
		MaxRequestBodySize               nullable[int64]
		MaxRequestBufferSize             nullable[int64]
		MaxResponseBufferSize            nullable[int64]
		MaxRequestLineSize               *int
		MaxRequestHeadersTotalSize       *int
		MaxRequestHeaderCount            *int
		KeepAliveTimeout                 *duration
		RequestHeadersTimeout            *duration
		MinRequestBodyDataRate           nullable[rateSection]
		MinResponseDataRate              nullable[rateSection]
		Http2                            sub[http2Section]
	}
	http2Section struct {
		MaxStreamsPerConnection     *int
		HeaderTableSize             *int
		MaxFrameSize                *int
		MaxRequestHeaderFieldSize   *int
		InitialConnectionWindowSize *int
		InitialStreamWindowSize     *int
		KeepAlivePingDelay          *duration
		KeepAlivePingTimeout        *duration
	}
	// rateSection is Kestrel's MinDataRate. BytesPerSecond must be there;
	// GracePeriod may be left out for Kestrel's 5 s.
	rateSection struct {
		BytesPerSecond *float64
		GracePeriod    *duration
	}
	endpointSection struct {
		Url                   string
		Protocols             *string
		Certificate           sub[certificateSection]
		ClientCertificateMode *string
		Sni                   map[string]sub[sniSection]
	}
	sniSection struct {
		Protocols             *string
		Certificate           sub[certificateSection]
		ClientCertificateMode *string
	}
	certificateSection struct {
		Path     string
		KeyPath  string
		Password *string
		Subject  *string
		Store    *string
	}
	windhoverSection struct {
		MaxConnectionsPerClient     *int
		ClientIPv4PrefixLength      *int
		ClientIPv6PrefixLength      *int
		MaxConnectionAge            *duration
		MaxRequestsPerConnection    *int
		EnforceTimeoutsWhenDebugged *bool
		RateLimiter                 sub[rateLimiterSection]
		ConcurrencyLimiter          sub[concurrencySection]
		ClientCertificates          sub[clientCertificatesSection]
		ShutdownTimeout             *duration
		DrainDelay                  *duration
		LivePath                    *string
		ReadyPath                   *string
		MetricsPath                 *string
	}
)

// The Windhover section's parts.
type (
	rateLimiterSection struct {
		PermitsPerSecond float64
		Burst            int
		TrustedProxies   []string
	}
	concurrencySection struct {
		PermitLimit int
		QueueLimit  int
	}
	clientCertificatesSection struct {
		ClientCAs      []string
		CRLFiles       []string
		TrustedProxies []string
	}
)

// sub is a section within a section, decoded once its JSON path is known,
// so that a setting it does not have is named by its whole path.
type sub[T any] struct{ raw json.RawMessage }

func (s *sub[T]) UnmarshalJSON(b []byte) error {
	s.raw = append(s.raw[:0], b...)
	return nil
}

// open decodes s, a section at path, strictly; nil if it is absent or null,
// or does not decode (the error is noted).
func open[T any](p *parser, path string, s sub[T]) *T {
	if len(s.raw) == 0 || string(s.raw) == "null" {
		return nil
	}
	v := new(T)
	if !p.decode(path, s.raw, v) {
		return nil
	}
	return v
}

// nullable is a JSON value that may be absent (set is false), null, or
// there. A value that does not decode is kept as err, to be reported under
// the setting's path.
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
	n.err = strict(b, &n.v)
	return nil
}

// duration reads a JSON string as .NET writes a TimeSpan ("00:02:10",
// "1.00:00:00") or as Go writes a duration ("130s"). One that does not parse
// is kept as err, to be reported under the setting's path.
type duration struct {
	d   time.Duration
	err error
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		d.err = fmt.Errorf("%s is not a duration: write a TimeSpan such as \"00:00:30\"", b)
		return nil
	}
	d.d, d.err = parseTimeSpan(s)
	if d.err != nil {
		if v, err := time.ParseDuration(s); err == nil {
			d.d, d.err = v, nil
		}
	}
	return nil
}

// parseTimeSpan parses .NET's "[-][d.]hh:mm:ss[.fffffff]".
func parseTimeSpan(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a TimeSpan (hh:mm:ss, or d.hh:mm:ss)", s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
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
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || !(sec >= 0 && sec < 60) {
		return 0, bad
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(math.Round(sec*float64(time.Second)))
	if neg {
		d = -d
	}
	return d, nil
}

// strict decodes b into v, refusing fields v does not have.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// parser collects every error of a file, each naming its JSON path.
type parser struct{ errs []error }

func (p *parser) decode(path string, raw json.RawMessage, v any) bool {
	if err := strict(raw, v); err != nil {
		p.errs = append(p.errs, jsonError(path, err))
		return false
	}
	return true
}

func (p *parser) bad(path string, v any, problem string) {
	p.errs = append(p.errs, fmt.Errorf("%s = %v: %s", path, v, problem))
}

func (p *parser) failed(path string, err error) bool {
	if err != nil {
		p.errs = append(p.errs, jsonError(path, err))
	}
	return err != nil
}

// jsonError names the setting at path (the root if empty) in err, an error
// decoding it: a JSON value of the wrong type names its own path within it,
// and an unknown field its name.
func jsonError(path string, err error) error {
	join := func(field string) string {
		if path == "" {
			return field
		}
		return path + "." + field
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		at := path
		if te.Field != "" {
			at = join(te.Field)
		}
		return fmt.Errorf("%s: got a JSON %s, want %v", at, te.Value, te.Type)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return fmt.Errorf("%s: not a setting windhover knows (a setting it cannot honour is refused rather than ignored)", join(f))
	}
	if path == "" {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// kestrel reads the "Kestrel" section.
func (p *parser) kestrel(k *kestrelSection, cfg *Config) {
	if l := open(p, "Kestrel.Limits", k.Limits); l != nil {
		p.limits(l, cfg)
	}
	var defaults endpointDefaults
	if d := open(p, "Kestrel.EndpointDefaults", k.EndpointDefaults); d != nil {
		defaults = *d
	}
	for name, c := range k.Certificates {
		path := "Kestrel.Certificates." + name
		if name != "Default" {
			p.bad(path, "{...}", `only "Default" is read: name a certificate of an endpoint in its own Certificate`)
			continue
		}
		if f, ok := p.certificate(path, c); ok {
			cfg.Certificate = f
		}
	}
	p.endpoints(k.Endpoints, defaults, cfg)
}

// limits reads Kestrel.Limits.
func (p *parser) limits(l *limitsSection, cfg *Config) {
	const at = "Kestrel.Limits."
	lc, tc := &cfg.Limits, &cfg.Timeouts
	if n, path := l.MaxConcurrentConnections, at+"MaxConcurrentConnections"; n.set && !p.failed(path, n.err) {
		switch {
		case n.null:
		case n.v <= 0:
			p.bad(path, n.v, "must be positive: Kestrel would refuse every connection (null means no limit)")
		default:
			lc.MaxConcurrentConnections = n.v
		}
	}
	if n, path := l.MaxConcurrentUpgradedConnections, at+"MaxConcurrentUpgradedConnections"; n.set && !p.failed(path, n.err) {
		switch {
		case n.null:
		case n.v == 0:
			lc.MaxConcurrentUpgradedConnections = limits.NoUpgrades
		case n.v < 0:
			p.bad(path, n.v, "must not be negative (0 means no upgrades, null no limit)")
		default:
			lc.MaxConcurrentUpgradedConnections = n.v
		}
	}
	if n, path := l.MaxRequestBodySize, at+"MaxRequestBodySize"; n.set && !p.failed(path, n.err) {
		switch {
		case n.null:
			lc.MaxRequestBodySize = limits.Unlimited
		case n.v == 0:
			lc.MaxRequestBodySize = limits.NoBody
		case n.v < 0:
			p.bad(path, n.v, "must not be negative (0 means no body at all, null no limit)")
		default:
			lc.MaxRequestBodySize = n.v
		}
	}
	if n, path := l.MaxRequestBufferSize, at+"MaxRequestBufferSize"; n.set && !p.failed(path, n.err) && !n.null && n.v <= 0 {
		// net/http reads through a 4 KiB buffer whatever the value: any
		// positive one is kept by construction.
		p.bad(path, n.v, "must be positive (null means no limit)")
	}
	if n, path := l.MaxResponseBufferSize, at+"MaxResponseBufferSize"; n.set && !p.failed(path, n.err) {
		switch {
		case n.null:
			tc.MaxUnsentResponseBytes = -1
		case n.v < 0:
			p.bad(path, n.v, "must not be negative (null means no limit)")
		case n.v == 0:
			// Kestrel's 0 writes without buffering: the least the kernel
			// allows.
			tc.MaxUnsentResponseBytes = 1
		case n.v > math.MaxInt32:
			p.bad(path, n.v, "must be at most 2147483647")
		default:
			tc.MaxUnsentResponseBytes = int(n.v)
		}
	}
	for _, f := range []struct {
		path string
		v    *int
		dst  *int
	}{
		{"MaxRequestLineSize", l.MaxRequestLineSize, &lc.MaxRequestLineSize},
		{"MaxRequestHeadersTotalSize", l.MaxRequestHeadersTotalSize, &lc.MaxRequestHeadersTotalSize},
		{"MaxRequestHeaderCount", l.MaxRequestHeaderCount, &lc.MaxRequestHeaderCount},
	} {
		p.positive(at+f.path, f.v, f.dst)
	}
	p.timeout(at+"KeepAliveTimeout", l.KeepAliveTimeout, &tc.KeepAliveTimeout)
	p.timeout(at+"RequestHeadersTimeout", l.RequestHeadersTimeout, &tc.RequestHeadersTimeout)
	p.rate(at+"MinRequestBodyDataRate", l.MinRequestBodyDataRate, &tc.MinRequestBodyDataRate)
	p.rate(at+"MinResponseDataRate", l.MinResponseDataRate, &tc.MinResponseDataRate)
	if h := open(p, at+"Http2", l.Http2); h != nil {
		const at2 = at + "Http2."
		h2 := &lc.HTTP2
		p.positive(at2+"MaxStreamsPerConnection", h.MaxStreamsPerConnection, &h2.MaxStreamsPerConnection)
		p.positive(at2+"HeaderTableSize", h.HeaderTableSize, &h2.HeaderTableSize)
		p.positive(at2+"MaxFrameSize", h.MaxFrameSize, &h2.MaxFrameSize)
		p.positive(at2+"InitialConnectionWindowSize", h.InitialConnectionWindowSize, &h2.InitialConnectionWindowSize)
		p.positive(at2+"InitialStreamWindowSize", h.InitialStreamWindowSize, &h2.InitialStreamWindowSize)
		if v := h.MaxRequestHeaderFieldSize; v != nil {
			total := lc.MaxRequestHeadersTotalSize
			if total == 0 {
				total = limits.DefaultMaxRequestHeadersTotalSize
			}
			if *v < total {
				p.bad(at2+"MaxRequestHeaderFieldSize", *v, fmt.Sprintf("cannot be enforced: Go has no limit per header field, only on the whole list (Kestrel.Limits.MaxRequestHeadersTotalSize, %d); leave it out, or make it at least that", total))
			}
		}
		for _, f := range []struct {
			path string
			v    *duration
			dst  *time.Duration
		}{
			{"KeepAlivePingDelay", h.KeepAlivePingDelay, &h2.KeepAlivePingDelay},
			{"KeepAlivePingTimeout", h.KeepAlivePingTimeout, &h2.KeepAlivePingTimeout},
		} {
			if f.v != nil && !p.failed(at2+f.path, f.v.err) {
				if f.v.d <= 0 {
					p.bad(at2+f.path, f.v.d, "must be positive")
				} else {
					*f.dst = f.v.d
				}
			}
		}
	}
}

func (p *parser) positive(path string, v, dst *int) {
	switch {
	case v == nil:
	case *v <= 0:
		p.bad(path, *v, "must be positive")
	default:
		*dst = *v
	}
}

func (p *parser) timeout(path string, v *duration, dst *time.Duration) {
	switch {
	case v == nil || p.failed(path, v.err):
	case v.d <= 0:
		p.bad(path, v.d, "must be positive")
	default:
		*dst = v.d
	}
}

// rate reads a minimum data rate as Kestrel does: null switches it off, and
// BytesPerSecond must be positive (Kestrel's MinDataRate refuses 0). Unlike
// Kestrel, whose 1-second heartbeat makes it refuse a GracePeriod of a
// second or less, any positive GracePeriod is taken: windhover measures
// exactly.
func (p *parser) rate(path string, r nullable[rateSection], dst *timeouts.Rate) {
	switch {
	case !r.set || p.failed(path, r.err):
		return
	case r.null:
		*dst = timeouts.Off
		return
	}
	var v timeouts.Rate
	switch bps := r.v.BytesPerSecond; {
	case bps == nil:
		p.bad(path+".BytesPerSecond", "(missing)", "must be given (to switch the rate off, make "+path+" null)")
		return
	case !(*bps > 0):
		p.bad(path+".BytesPerSecond", *bps, "must be positive (to switch the rate off, make "+path+" null)")
		return
	default:
		v.BytesPerSecond = *bps
	}
	if g, gp := r.v.GracePeriod, path+".GracePeriod"; g != nil {
		switch {
		case p.failed(gp, g.err):
			return
		case g.d <= 0:
			p.bad(gp, g.d, "must be positive")
			return
		}
		v.GracePeriod = g.d
	}
	*dst = v
}

// certificate reads a Certificate section: PEM files only.
func (p *parser) certificate(path string, s sub[certificateSection]) (CertificateFiles, bool) {
	c := open(p, path, s)
	if c == nil {
		return CertificateFiles{}, false
	}
	ok := true
	if c.Subject != nil || c.Store != nil {
		p.bad(path+".Store", "(set)", "certificate stores are .NET's: give Path and KeyPath, PEM files")
		ok = false
	}
	if c.Password != nil {
		p.bad(path+".Password", "(set)", "encrypted keys are not read: give an unencrypted PEM key, readable by the server alone")
		ok = false
	}
	if c.Path == "" || c.KeyPath == "" {
		p.bad(path, "{...}", "needs Path and KeyPath, PEM files (a PFX file is not read)")
		ok = false
	}
	return CertificateFiles{CertFile: c.Path, KeyFile: c.KeyPath}, ok
}

// modes maps Kestrel's ClientCertificateMode names to certauth's modes.
var modes = map[string]certauth.Mode{
	"NoCertificate":      certauth.NoCertificate,
	"AllowCertificate":   certauth.AllowCertificate,
	"RequireCertificate": certauth.RequireCertificate,
}

func (p *parser) mode(path string, s *string) (certauth.Mode, bool) {
	if s == nil {
		return certauth.NoCertificate, false
	}
	m, ok := modes[*s]
	switch {
	case *s == "DelayCertificate":
		p.bad(path, strconv.Quote(*s), "cannot be served: Go's TLS server renegotiates neither in TLS 1.2 nor after a TLS 1.3 handshake; give the routes that need certificates a server name of their own under Sni, with RequireCertificate")
	case !ok:
		p.bad(path, strconv.Quote(*s), "is not NoCertificate, AllowCertificate or RequireCertificate")
	}
	return m, ok
}

// protocols maps Kestrel's HttpProtocols names.
func (p *parser) protocols(path string, s *string, tls bool) (http.Protocols, bool) {
	var pr http.Protocols
	name := "Http1AndHttp2"
	if s != nil {
		name = *s
	}
	switch name {
	case "Http1":
		pr.SetHTTP1(true)
	case "Http2":
		if tls {
			pr.SetHTTP2(true)
		} else {
			pr.SetUnencryptedHTTP2(true) // prior knowledge, as Kestrel
		}
	case "Http1AndHttp2":
		// Without TLS there is no ALPN to choose HTTP/2 by: Kestrel
		// serves HTTP/1.1 alone there.
		pr.SetHTTP1(true)
		pr.SetHTTP2(tls)
	case "Http1AndHttp2AndHttp3", "Http3":
		p.bad(path, strconv.Quote(name), "HTTP/3 is not served yet: use Http1AndHttp2")
		return pr, false
	default:
		p.bad(path, strconv.Quote(name), "is not Http1, Http2 or Http1AndHttp2")
		return pr, false
	}
	return pr, true
}

// endpoints reads Kestrel.Endpoints. One http.Server serves every endpoint,
// so what Kestrel sets per endpoint and net/http per server (the protocols,
// the client certificate mode, the certificate and mode of a server name
// listed under Sni) must agree among them; each endpoint's own Certificate
// is served on its own listeners.
func (p *parser) endpoints(eps map[string]sub[endpointSection], defaults endpointDefaults, cfg *Config) {
	names := make([]string, 0, len(eps))
	for name := range eps {
		names = append(names, name)
	}
	sort.Strings(names)
	type agreed[T comparable] struct {
		v    T
		from string
	}
	type asked struct {
		path string
		tls  bool
		pr   http.Protocols
	}
	var protos []asked
	var mode, star *agreed[certauth.Mode]
	// Sni is per endpoint in Kestrel, per server here: a name that two
	// endpoints list must agree.
	sniCerts := map[string]agreed[CertificateFiles]{}
	sniModes := map[string]agreed[certauth.Mode]{}
	agree := func(path, what string, v, have any, from string) bool {
		if v != have {
			p.bad(path, v, fmt.Sprintf("differs from %s (%v): one server serves every endpoint, with one %s", from, have, what))
			return false
		}
		return true
	}
	for _, name := range names {
		at := "Kestrel.Endpoints." + name
		e := open(p, at, eps[name])
		if e == nil {
			continue
		}
		ep, err := ParseEndpoint(e.Url)
		if err != nil {
			p.bad(at+".Url", strconv.Quote(e.Url), err.Error())
			continue
		}
		ep.Name = name
		cfg.Endpoints = append(cfg.Endpoints, ep)
		pp, ps := at+".Protocols", e.Protocols
		if ps == nil {
			pp, ps = "Kestrel.EndpointDefaults.Protocols", defaults.Protocols
		}
		if pr, ok := p.protocols(pp, ps, ep.TLS); ok {
			protos = append(protos, asked{pp, ep.TLS, pr})
		}
		if e.Sni != nil && !ep.TLS {
			p.bad(at+".Sni", "{...}", "is for https endpoints")
		}
		if !ep.TLS {
			if e.Certificate.raw != nil || e.ClientCertificateMode != nil {
				p.bad(at, e.Url, "is not https: Certificate and ClientCertificateMode are for https endpoints")
			}
			continue
		}
		if e.Certificate.raw != nil {
			if f, ok := p.certificate(at+".Certificate", e.Certificate); ok {
				cfg.Endpoints[len(cfg.Endpoints)-1].Certificate = f
			}
		}
		mp, ms := at+".ClientCertificateMode", e.ClientCertificateMode
		if ms == nil {
			mp, ms = "Kestrel.EndpointDefaults.ClientCertificateMode", defaults.ClientCertificateMode
		}
		if m, ok := p.mode(mp, ms); ok {
			if mode == nil {
				mode = &agreed[certauth.Mode]{m, mp}
			} else {
				agree(mp, "client certificate mode", m, mode.v, mode.from)
			}
		}
		for host, raw := range e.Sni {
			sp := at + ".Sni." + host
			s := open(p, sp, raw)
			if s == nil {
				continue
			}
			if s.Protocols != nil {
				p.bad(sp+".Protocols", *s.Protocols, "protocols per server name are not served: set them on the endpoint")
			}
			if m, ok := p.mode(sp+".ClientCertificateMode", s.ClientCertificateMode); ok && host == "*" {
				// Kestrel's "*" is every other server name: the mode of
				// the names not listed.
				star = &agreed[certauth.Mode]{m, sp + ".ClientCertificateMode"}
			} else if ok {
				if cfg.ClientCertificates.Hosts == nil {
					cfg.ClientCertificates.Hosts = map[string]certauth.Mode{}
				}
				if had, dup := sniModes[host]; !dup || agree(sp+".ClientCertificateMode", "client certificate mode per server name", m, had.v, had.from) {
					sniModes[host] = agreed[certauth.Mode]{m, sp + ".ClientCertificateMode"}
					cfg.ClientCertificates.Hosts[host] = m
				}
			}
			if s.Certificate.raw != nil {
				if f, ok := p.certificate(sp+".Certificate", s.Certificate); ok {
					if cfg.SniCertificates == nil {
						cfg.SniCertificates = map[string]CertificateFiles{}
					}
					if had, dup := sniCerts[host]; !dup || agree(sp+".Certificate", "certificate per server name", f, had.v, had.from) {
						sniCerts[host] = agreed[CertificateFiles]{f, sp + ".Certificate"}
						cfg.SniCertificates[host] = f
					}
				}
			}
		}
		if cfg.Certificate == (CertificateFiles{}) && cfg.Endpoints[len(cfg.Endpoints)-1].Certificate == (CertificateFiles{}) && len(e.Sni) == 0 {
			p.bad(at+".Certificate", "(missing)", "an https endpoint needs a certificate: give it Certificate, or give Kestrel.Certificates.Default")
		}
	}
	if len(protos) > 0 {
		// The server speaks every protocol any endpoint asks for; each
		// endpoint must then speak exactly what it asked for.
		var all http.Protocols
		for _, a := range protos {
			all.SetHTTP1(all.HTTP1() || a.pr.HTTP1())
			all.SetHTTP2(all.HTTP2() || a.pr.HTTP2())
			all.SetUnencryptedHTTP2(all.UnencryptedHTTP2() || a.pr.UnencryptedHTTP2())
		}
		for _, a := range protos {
			var served http.Protocols
			served.SetHTTP1(all.HTTP1())
			served.SetHTTP2(a.tls && all.HTTP2())
			served.SetUnencryptedHTTP2(!a.tls && all.UnencryptedHTTP2())
			if served.String() != a.pr.String() {
				p.bad(a.path, a.pr.String(), fmt.Sprintf("one server serves every endpoint, and the others ask for %v: give every endpoint the same Protocols", all))
				break
			}
		}
		cfg.Protocols = &all
	}
	if star != nil {
		mode = star
	}
	if mode != nil {
		cfg.ClientCertificates.Mode = mode.v
	}
}

// windhover reads the "Windhover" section.
func (p *parser) windhover(w *windhoverSection, cfg *Config) {
	p.positive("Windhover.MaxConnectionsPerClient", w.MaxConnectionsPerClient, &cfg.Limits.MaxConnectionsPerClient)
	for _, f := range []struct {
		path string
		v    *int
		max  int
		dst  *int
	}{
		{"Windhover.ClientIPv4PrefixLength", w.ClientIPv4PrefixLength, 32, &cfg.Limits.ClientIPv4PrefixLen},
		{"Windhover.ClientIPv6PrefixLength", w.ClientIPv6PrefixLength, 128, &cfg.Limits.ClientIPv6PrefixLen},
	} {
		if f.v != nil && (*f.v < 1 || *f.v > f.max) {
			p.bad(f.path, *f.v, fmt.Sprintf("must be between 1 and %d", f.max))
		} else if f.v != nil {
			*f.dst = *f.v
		}
	}
	p.timeout("Windhover.MaxConnectionAge", w.MaxConnectionAge, &cfg.Limits.MaxConnectionAge)
	p.positive("Windhover.MaxRequestsPerConnection", w.MaxRequestsPerConnection, &cfg.Limits.MaxRequestsPerConnection)
	if w.EnforceTimeoutsWhenDebugged != nil {
		cfg.Timeouts.EnforceWhenDebugged = *w.EnforceTimeoutsWhenDebugged
	}
	if r := open(p, "Windhover.RateLimiter", w.RateLimiter); r != nil {
		switch {
		case !(r.PermitsPerSecond > 0) || math.IsInf(r.PermitsPerSecond, 0):
			p.bad("Windhover.RateLimiter.PermitsPerSecond", r.PermitsPerSecond, "must be positive (leave RateLimiter out for no rate limit)")
		case r.Burst < 0:
			p.bad("Windhover.RateLimiter.Burst", r.Burst, "must not be negative (0 means PermitsPerSecond, rounded up)")
		default:
			cfg.RateLimit = &limits.RateConfig{Rate: rate.Limit(r.PermitsPerSecond), Burst: r.Burst, TrustedProxies: r.TrustedProxies}
		}
	}
	if c := open(p, "Windhover.ConcurrencyLimiter", w.ConcurrencyLimiter); c != nil {
		switch {
		case c.PermitLimit < 0:
			p.bad("Windhover.ConcurrencyLimiter.PermitLimit", c.PermitLimit, "must not be negative (0 means no limit)")
		case c.QueueLimit < 0:
			p.bad("Windhover.ConcurrencyLimiter.QueueLimit", c.QueueLimit, "must not be negative (0 means no queue)")
		default:
			cfg.Concurrency = &limits.ConcurrencyConfig{MaxConcurrentRequests: c.PermitLimit, RequestQueueLimit: c.QueueLimit}
		}
	}
	if c := open(p, "Windhover.ClientCertificates", w.ClientCertificates); c != nil {
		cfg.ClientCertificates.TrustedProxies = c.TrustedProxies
		cfg.ClientCertificates.CRLFiles = c.CRLFiles
		cfg.ClientCAFiles = c.ClientCAs
	}
	for _, f := range []struct {
		path string
		v    *duration
		dst  *time.Duration
	}{
		{"Windhover.ShutdownTimeout", w.ShutdownTimeout, &cfg.Shutdown.ShutdownTimeout},
		{"Windhover.DrainDelay", w.DrainDelay, &cfg.Shutdown.DrainDelay},
	} {
		switch {
		case f.v == nil || p.failed(f.path, f.v.err):
		case f.v.d < 0:
			p.bad(f.path, f.v.d, "must not be negative")
		default:
			*f.dst = f.v.d
		}
	}
	if w.LivePath != nil {
		cfg.LivePath = *w.LivePath
	}
	if w.ReadyPath != nil {
		cfg.ReadyPath = *w.ReadyPath
	}
	if w.MetricsPath != nil {
		cfg.MetricsPath = *w.MetricsPath
	}
}
