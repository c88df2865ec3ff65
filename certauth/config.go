package certauth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"time"
)

// ASP.NET's defaults, which the zero [Config] stands for, and windhover's
// where ASP.NET has none.
const (
	// DefaultCacheSize is the number of validation results kept when
	// CacheSize is zero (ASP.NET's CertificateValidationCacheOptions).
	DefaultCacheSize = 1024
	// DefaultCacheExpiry is how long an unused validation result is kept
	// when CacheExpiry is zero (ASP.NET's sliding expiration).
	DefaultCacheExpiry = 2 * time.Minute
	// DefaultForwardedHeader is the header a trusted proxy forwards the
	// client's certificate in when ForwardedHeader is empty (ASP.NET's
	// CertificateForwardingOptions).
	DefaultForwardedHeader = "X-Client-Cert"
	// DefaultCRLCheckInterval is how often the CRL files are checked for
	// changes when CRLCheckInterval is zero.
	DefaultCRLCheckInterval = time.Minute
)

// Config is a client-certificate policy: which handshakes ask for a
// certificate (Kestrel's ClientCertificateMode, per host), how a certificate
// is validated (ASP.NET's CertificateAuthenticationOptions), and who may
// forward one in a header. The zero Config asks for no certificate and
// believes no forwarded one; any other mode needs ClientCAs.
//
// A Config is read once by [New]; changing it afterwards has no effect.
type Config struct {
	// Mode is the handshake's mode for connections whose server name (SNI)
	// is not in Hosts, or that sent none. Zero is NoCertificate.
	Mode Mode

	// Hosts sets the mode per server name: "api.example.com" or
	// "*.api.example.com" (any depth of subdomain, not the name itself).
	// Names compare case-insensitively, without a trailing dot; an exact
	// name wins over a wildcard, and a longer wildcard over a shorter one.
	// IDNs must be given in their ASCII (punycode) form, as SNI carries
	// them. A request whose Host is under a policy its connection's
	// handshake did not apply gets 421 from the Handler.
	Hosts map[string]Mode

	// AllowedTypes are the kinds of certificate accepted. Zero means Chained
	// (ASP.NET's default).
	AllowedTypes CertificateTypes

	// SkipClientAuthEKU accepts certificates whose extended key usages do
	// not include client authentication. By default they are refused
	// (ASP.NET's ValidateCertificateUse = true). A certificate with no
	// extended key usage at all is valid for every use either way.
	SkipClientAuthEKU bool

	// ClientCAs are the trusted roots that Chained certificates must lead
	// to (ASP.NET's CustomTrustStore); their names are also sent to clients
	// in the handshake, to help them choose a certificate. It is required
	// whenever Chained certificates can be validated; pass
	// x509.SystemCertPool() to trust the system's roots, as ASP.NET does by
	// default.
	ClientCAs *x509.CertPool

	// Intermediates are extra intermediate certificates for building chains
	// (ASP.NET's AdditionalChainCertificates), besides those the client
	// sends. A forwarded certificate arrives alone, so the intermediates
	// between it and ClientCAs must be here.
	Intermediates *x509.CertPool

	// CRLFiles are certificate revocation lists, PEM ("X509 CRL" blocks) or
	// DER, checked for every certificate of a chain except its root. Each
	// applies to the certificates of its issuer, whose signature on it is
	// checked. The files are read by [New] (an error fails it), re-read by
	// [Policy.Reload], and re-read when their modification time or size
	// changes (see CRLCheckInterval). Empty means no revocation check.
	CRLFiles []string

	// AllowUnknownRevocation accepts a chain certificate whose issuer has
	// no current CRL among CRLFiles (none at all, or one past its
	// NextUpdate). By default it is refused, as ASP.NET refuses an unknown
	// revocation status; a listed certificate is refused either way.
	AllowUnknownRevocation bool

	// CRLCheckInterval is how often the CRL files' modification times and
	// sizes are compared with those last read, by the first validation or
	// request after the interval; a file that changed is re-read. Zero
	// means one minute; negative means never (call [Policy.Reload]).
	CRLCheckInterval time.Duration

	// Validate, if set, is called for each certificate that passed every
	// other check, with the identity it would give, and refuses it by
	// returning an error (ASP.NET's OnCertificateValidated). Its verdict is
	// cached with the rest of the validation, so it runs once per
	// certificate and cache lifetime, during a handshake or a request; it
	// must be safe for concurrent use.
	Validate func(id *Identity) error

	// TrustedProxies are the peers whose ForwardedHeader is believed: IP
	// addresses, CIDR prefixes, and "unix" for any peer on a Unix socket.
	// From every other peer the header is removed from the request and
	// ignored. Empty means nobody is trusted.
	TrustedProxies []string

	// ForwardedHeader is the header in which a trusted proxy forwards the
	// client's certificate: base64 DER, or PEM, either of them URL-escaped
	// (nginx's $ssl_client_escaped_cert). Empty means "X-Client-Cert".
	ForwardedHeader string

	// CacheSize bounds the number of validation results kept, by
	// certificate, least recently used first out. Zero means
	// 1,024 (ASP.NET's default); negative switches the cache off.
	CacheSize int

	// CacheExpiry is how long a validation result is kept after its last
	// use (a sliding expiration). A result never outlives the validity of
	// its certificates or the CRLs consulted. Zero means two minutes
	// (ASP.NET's default); negative is an error.
	CacheExpiry time.Duration

	// Time, if set, is the clock for validity periods and the cache.
	// Nil means time.Now.
	Time func() time.Time

	// OnReject, if set, is called for each refusal with the request (nil
	// for a handshake) and an [*Error]. It runs on the goroutine that
	// refused, before the client is answered, so it must be quick and safe
	// for concurrent use.
	OnReject func(r *http.Request, err error)
}

func fieldError(field string, value any, problem string) error {
	return fmt.Errorf("windhover/certauth: Config.%s = %v %s", field, value, problem)
}

// usesChained reports whether cfg can ever validate a Chained certificate:
// it asks for certificates somewhere or believes forwarded ones, and accepts
// chained ones.
func (cfg *Config) usesChained() bool {
	if cfg.AllowedTypes != 0 && cfg.AllowedTypes&Chained == 0 {
		return false
	}
	if cfg.Mode != NoCertificate || len(cfg.TrustedProxies) > 0 {
		return true
	}
	for _, m := range cfg.Hosts {
		if m != NoCertificate {
			return true
		}
	}
	return false
}

// AsksForCertificates reports whether c has the handshake ask some client
// for a certificate: Mode, or the mode of a name in Hosts, is other than
// NoCertificate.
func (c *Config) AsksForCertificates() bool {
	if c.Mode != NoCertificate {
		return true
	}
	for _, m := range c.Hosts {
		if m != NoCertificate {
			return true
		}
	}
	return false
}
