package certauth

import (
	"errors"
	"net/http"
	"strconv"
)

// Reason names why a certificate or a request was refused. Its String form is
// a stable snake_case label, fit for metrics and logs.
type Reason uint8

// The reasons, one per check.
const (
	// ReasonNoCertificate: a route that requires a certificate got a request
	// without a validated one; 403. Also a handshake under
	// RequireCertificate that resumed a session without one.
	ReasonNoCertificate Reason = iota
	// ReasonMisdirected: the request names a host whose policy the
	// connection's handshake (chosen by its SNI) did not apply; 421.
	ReasonMisdirected
	// ReasonMalformed: a trusted proxy's forwarded-certificate header could
	// not be decoded or parsed as one X.509 certificate; 403.
	ReasonMalformed
	// ReasonExpired: the certificate is past its NotAfter.
	ReasonExpired
	// ReasonNotYetValid: the certificate is before its NotBefore.
	ReasonNotYetValid
	// ReasonSelfSigned: a self-signed certificate while AllowedTypes does
	// not include SelfSigned.
	ReasonSelfSigned
	// ReasonChained: a certificate issued by another while AllowedTypes
	// does not include Chained.
	ReasonChained
	// ReasonUntrusted: no valid chain leads from the certificate to
	// ClientCAs (unknown issuer, a chain certificate out of its validity
	// period or not allowed to sign, a bad signature).
	ReasonUntrusted
	// ReasonNotForClientAuth: the certificate, or one of its chain, has
	// extended key usages that do not include client authentication.
	ReasonNotForClientAuth
	// ReasonRevoked: a certificate of the chain is listed in a CRL of its
	// issuer.
	ReasonRevoked
	// ReasonRevocationUnknown: a certificate of the chain has no current
	// CRL from its issuer among CRLFiles (none, or past its NextUpdate).
	ReasonRevocationUnknown
	// ReasonCallback: Config.Validate refused the certificate.
	ReasonCallback

	numReasons
)

// NumReasons is the number of reasons, the length of [Stats.Rejected].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonNoCertificate:     "no_certificate",
	ReasonMisdirected:       "misdirected",
	ReasonMalformed:         "malformed",
	ReasonExpired:           "expired",
	ReasonNotYetValid:       "not_yet_valid",
	ReasonSelfSigned:        "self_signed",
	ReasonChained:           "chained",
	ReasonUntrusted:         "untrusted",
	ReasonNotForClientAuth:  "not_for_client_auth",
	ReasonRevoked:           "revoked",
	ReasonRevocationUnknown: "revocation_unknown",
	ReasonCallback:          "callback",
}

// String returns the reason's snake_case label, such as "revoked".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// Status returns the HTTP status that answers a request refused for r: 421
// for ReasonMisdirected, 403 for every other reason.
func (r Reason) Status() int {
	if r == ReasonMisdirected {
		return http.StatusMisdirectedRequest
	}
	return http.StatusForbidden
}

// The sentinel errors, one per [Reason]. An [*Error] matches its reason's
// sentinel with errors.Is.
var (
	ErrNoCertificate     = errors.New("windhover/certauth: no validated client certificate")
	ErrMisdirected       = errors.New("windhover/certauth: request names a host whose certificate policy this connection did not apply")
	ErrMalformed         = errors.New("windhover/certauth: forwarded client certificate is malformed")
	ErrExpired           = errors.New("windhover/certauth: client certificate has expired")
	ErrNotYetValid       = errors.New("windhover/certauth: client certificate is not yet valid")
	ErrSelfSigned        = errors.New("windhover/certauth: self-signed client certificates are not allowed")
	ErrChained           = errors.New("windhover/certauth: chained client certificates are not allowed")
	ErrUntrusted         = errors.New("windhover/certauth: client certificate is not trusted")
	ErrNotForClientAuth  = errors.New("windhover/certauth: client certificate is not for client authentication")
	ErrRevoked           = errors.New("windhover/certauth: client certificate has been revoked")
	ErrRevocationUnknown = errors.New("windhover/certauth: client certificate's revocation status is unknown")
	ErrCallback          = errors.New("windhover/certauth: client certificate refused by Config.Validate")
)

// The errors of [Policy.TLSConfig] and [Policy.Apply], which wrap them with
// the settings concerned.
var (
	// ErrWeakerMode: a mode would ask less of clients than the TLS
	// configuration's own ClientAuth did.
	ErrWeakerMode = errors.New("windhover/certauth: the policy would weaken the server's client authentication")
	// ErrNoServerCertificates: a mode asks for client certificates, but the
	// TLS configuration has none of its own.
	ErrNoServerCertificates = errors.New("windhover/certauth: no server certificate")
)

var sentinels = [numReasons]error{
	ReasonNoCertificate:     ErrNoCertificate,
	ReasonMisdirected:       ErrMisdirected,
	ReasonMalformed:         ErrMalformed,
	ReasonExpired:           ErrExpired,
	ReasonNotYetValid:       ErrNotYetValid,
	ReasonSelfSigned:        ErrSelfSigned,
	ReasonChained:           ErrChained,
	ReasonUntrusted:         ErrUntrusted,
	ReasonNotForClientAuth:  ErrNotForClientAuth,
	ReasonRevoked:           ErrRevoked,
	ReasonRevocationUnknown: ErrRevocationUnknown,
	ReasonCallback:          ErrCallback,
}

func (r Reason) sentinel() error {
	if r < numReasons {
		return sentinels[r]
	}
	return errors.New("windhover/certauth: " + r.String())
}

// Error is a refusal: of a certificate during a TLS handshake, or of a
// request. It matches the sentinel of its Reason with errors.Is and wraps the
// underlying error, such as the crypto/x509 verification error, if any.
type Error struct {
	Reason Reason
	// Subject is the refused certificate's subject (RFC 2253), or "" when
	// there was none or it could not be parsed.
	Subject string
	// ServerName is the TLS server name (SNI) of the connection, "" if it
	// sent none or is not TLS.
	ServerName string
	// Host is the request's host, for ReasonMisdirected.
	Host string
	// Handshake reports whether the refusal failed a TLS handshake rather
	// than answered a request.
	Handshake bool
	// Forwarded reports whether the certificate came from a trusted proxy's
	// header.
	Forwarded bool
	// Err is the underlying error, if any.
	Err error

	connection bool // the connection's own certificate failed: close it
}

// Error describes the refusal.
func (e *Error) Error() string {
	msg := e.Reason.sentinel().Error()
	switch {
	case e.Reason == ReasonMisdirected:
		msg += " (host " + strconv.Quote(e.Host) + ", server name " + strconv.Quote(e.ServerName) + ")"
	case e.Subject != "":
		msg += " (" + e.Subject + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the reason's sentinel and, if set, the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Reason.sentinel(), e.Err}
	}
	return []error{e.Reason.sentinel()}
}
