package certauth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/peer"
)

// Policy enforces a [Config]: in TLS handshakes through [Policy.TLSConfig]
// or [Policy.Apply], on requests through [Policy.Handler], [Policy.Require]
// and [Policy.Check]. A Policy is safe for concurrent use.
type Policy struct {
	hosts         hostModes
	types         CertificateTypes
	usages        []x509.ExtKeyUsage
	roots         *x509.CertPool
	intermediates *x509.CertPool
	crls          *crlStore // nil without CRL files
	validateFn    func(*Identity) error
	proxies       peer.Set
	header        string // canonical form
	cache         *cache
	now           func() time.Time
	onReject      func(*http.Request, error)

	accepted           atomic.Uint64
	forwardedAccepted  atomic.Uint64
	forwardedIgnored   atomic.Uint64
	handshakesAccepted atomic.Uint64
	handshakeFailures  atomic.Uint64
	rejected           [numReasons]atomic.Uint64
}

// New returns a Policy for cfg, or an error naming the first invalid field.
// It reads the CRL files.
func New(cfg Config) (*Policy, error) {
	if cfg.Mode >= numModes {
		return nil, fieldError("Mode", cfg.Mode, "is not NoCertificate, AllowCertificate or RequireCertificate")
	}
	hosts, err := newHostModes(cfg.Mode, cfg.Hosts)
	if err != nil {
		return nil, err
	}
	if cfg.AllowedTypes > All {
		return nil, fieldError("AllowedTypes", cfg.AllowedTypes, "is not Chained, SelfSigned or All")
	}
	if cfg.ClientCAs == nil && cfg.usesChained() {
		return nil, fieldError("ClientCAs", "nil", "but chained client certificates need a trust store (x509.SystemCertPool() trusts the system's roots)")
	}
	if cfg.CacheExpiry < 0 {
		return nil, fieldError("CacheExpiry", cfg.CacheExpiry, "must not be negative (0 means 2 minutes)")
	}
	proxies, err := peer.Parse(cfg.TrustedProxies)
	if err != nil {
		return nil, fieldError("TrustedProxies", cfg.TrustedProxies, "is invalid: "+err.Error())
	}
	header := cfg.ForwardedHeader
	if header == "" {
		header = DefaultForwardedHeader
	}
	if !validFieldName(header) {
		return nil, fieldError("ForwardedHeader", quote(header), "is not a header field name")
	}
	p := &Policy{
		hosts:         hosts,
		types:         cfg.AllowedTypes,
		usages:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		roots:         cfg.ClientCAs,
		intermediates: cfg.Intermediates,
		validateFn:    cfg.Validate,
		proxies:       proxies,
		header:        textproto.CanonicalMIMEHeaderKey(header),
		now:           cfg.Time,
		onReject:      cfg.OnReject,
	}
	if p.types == 0 {
		p.types = Chained
	}
	if cfg.SkipClientAuthEKU {
		p.usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	if p.now == nil {
		p.now = time.Now
	}
	size, expiry := cfg.CacheSize, cfg.CacheExpiry
	if size == 0 {
		size = DefaultCacheSize
	}
	if expiry == 0 {
		expiry = DefaultCacheExpiry
	}
	p.cache = newCache(size, expiry)
	if len(cfg.CRLFiles) > 0 {
		if p.crls, err = newCRLStore(&cfg); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// validFieldName reports whether s is an HTTP token (RFC 9110, section
// 5.6.2).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Enabled reports whether p asks for client certificates on some host or
// trusts a proxy to forward them. A Policy that is not enabled refuses
// nothing: its Handler only removes the forwarded-certificate header from
// requests, so its counters other than ForwardedIgnored stay zero.
func (p *Policy) Enabled() bool {
	return p.hosts.def != NoCertificate || p.hosts.differs || !p.proxies.IsZero()
}

// ModeFor returns the mode of the handshake for server name (SNI) or host
// name: its entry in Config.Hosts, or Config.Mode.
func (p *Policy) ModeFor(name string) Mode { return p.hosts.lookup(name) }

// Reload re-reads every CRL file now. On an error, which names the file, the
// lists read before stay in force. Validation results cached before a
// successful reload are not used again. Without CRL files it does nothing.
func (p *Policy) Reload() error {
	if p.crls == nil {
		return nil
	}
	if err := p.crls.reload(); err != nil {
		return fmt.Errorf("windhover/certauth: reloading CRL files: %w", err)
	}
	return nil
}

// Stats is a snapshot of a Policy's counters.
type Stats struct {
	// Accepted counts the requests handed on with a validated certificate,
	// from their connection or a trusted proxy.
	Accepted uint64
	// ForwardedAccepted counts those of them whose certificate a trusted
	// proxy forwarded.
	ForwardedAccepted uint64
	// ForwardedIgnored counts the forwarded-certificate headers removed
	// because the peer that sent them is not trusted.
	ForwardedIgnored uint64
	// HandshakesAccepted counts the TLS handshakes whose certificate passed
	// validation. A handshake may still fail after it, if the client cannot
	// prove it holds the certificate's key.
	HandshakesAccepted uint64
	// HandshakeFailures counts the TLS handshakes failed by validation; each
	// is also counted in Rejected under its reason. Handshakes that
	// crypto/tls fails by itself, such as one without a certificate under
	// RequireCertificate, or one whose certificate the server's own
	// configuration had crypto/tls verify (see the package documentation,
	// "Never weaker") and refuse, are seen only by http.Server.ErrorLog.
	HandshakeFailures uint64
	// CacheHits and CacheMisses count the lookups of validation results.
	CacheHits, CacheMisses uint64
	// CacheEntries is the number of validation results kept.
	CacheEntries int
	// CRLReloads and CRLReloadFailures count the readings of the CRL files
	// after the first, and those that failed.
	CRLReloads, CRLReloadFailures uint64
	// Rejected counts the refusals, of handshakes and requests, by [Reason].
	Rejected [NumReasons]uint64
}

// RejectedTotal is the sum of Rejected.
func (s Stats) RejectedTotal() uint64 {
	var t uint64
	for _, n := range s.Rejected {
		t += n
	}
	return t
}

// Stats returns a snapshot of p's counters. Each counter is read atomically;
// the snapshot as a whole is not a single instant.
func (p *Policy) Stats() Stats {
	s := Stats{
		Accepted:           p.accepted.Load(),
		ForwardedAccepted:  p.forwardedAccepted.Load(),
		ForwardedIgnored:   p.forwardedIgnored.Load(),
		HandshakesAccepted: p.handshakesAccepted.Load(),
		HandshakeFailures:  p.handshakeFailures.Load(),
		CacheEntries:       p.cache.len(),
	}
	if p.cache != nil {
		s.CacheHits, s.CacheMisses = p.cache.hits.Load(), p.cache.misses.Load()
	}
	if p.crls != nil {
		s.CRLReloads, s.CRLReloadFailures = p.crls.reloads.Load(), p.crls.failures.Load()
	}
	for i := range p.rejected {
		s.Rejected[i] = p.rejected[i].Load()
	}
	return s
}

// reject counts a refusal and reports it to OnReject.
func (p *Policy) reject(r *http.Request, err *Error) {
	p.rejected[err.Reason].Add(1)
	if err.Handshake {
		p.handshakeFailures.Add(1)
	}
	if p.onReject != nil {
		p.onReject(r, err)
	}
}
