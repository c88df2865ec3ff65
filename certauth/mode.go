package certauth

import (
	"crypto/tls"
	"strconv"
)

// Mode says whether the TLS handshake asks the client for a certificate, as
// Kestrel's ClientCertificateMode does. The zero Mode is NoCertificate.
//
// Kestrel's fourth mode, DelayCertificate, asks for a certificate only when
// the application wants one, by renegotiating (TLS 1.2) or with post-handshake
// authentication (TLS 1.3). Go's crypto/tls supports neither on the server,
// so it cannot exist here; give the part of the application that needs
// certificates a host name of its own, with its own Mode in [Config.Hosts].
type Mode uint8

const (
	// NoCertificate: the handshake does not ask for a certificate
	// (tls.NoClientCert).
	NoCertificate Mode = iota
	// AllowCertificate: the handshake asks for a certificate and the client
	// may send none. A certificate that is sent must pass validation, or the
	// handshake fails, as in Kestrel.
	AllowCertificate
	// RequireCertificate: the handshake fails unless the client sends a
	// certificate that passes validation.
	RequireCertificate

	numModes
)

// String returns Kestrel's name of the mode, such as "RequireCertificate".
func (m Mode) String() string {
	switch m {
	case NoCertificate:
		return "NoCertificate"
	case AllowCertificate:
		return "AllowCertificate"
	case RequireCertificate:
		return "RequireCertificate"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// clientAuth is the crypto/tls setting for m on a configuration whose own
// ClientAuth was user, which must not ask more of clients than m does (see
// [kept]). Certificates are validated by the policy itself, in
// VerifyConnection; see the package documentation for why. But if user had
// crypto/tls verify them (against the configuration's ClientCAs), it still
// does, before the policy: a certificate must then pass both.
func (m Mode) clientAuth(user tls.ClientAuthType) tls.ClientAuthType {
	verify := user >= tls.VerifyClientCertIfGiven // as crypto/tls decides
	switch {
	case m == NoCertificate:
		return user
	case m == RequireCertificate && verify:
		return tls.RequireAndVerifyClientCert
	case m == RequireCertificate:
		return tls.RequireAnyClientCert
	case verify:
		return tls.VerifyClientCertIfGiven
	}
	return tls.RequestClientCert
}

// kept returns the weakest Mode that keeps what a configuration whose
// ClientAuth is ca asks of clients: a certificate required, asked for, or
// neither.
func kept(ca tls.ClientAuthType) Mode {
	switch ca {
	case tls.NoClientCert:
		return NoCertificate
	case tls.RequireAnyClientCert, tls.RequireAndVerifyClientCert:
		return RequireCertificate
	}
	return AllowCertificate
}

// CertificateTypes is a set of kinds of certificate that validation accepts,
// as ASP.NET's CertificateTypes. The zero value means Chained.
type CertificateTypes uint8

const (
	// Chained: certificates issued by a certificate authority, which must
	// chain to Config.ClientCAs.
	Chained CertificateTypes = 1 << iota
	// SelfSigned: certificates signed with their own key. Any self-signed
	// certificate with a valid signature passes (ASP.NET allows an unknown
	// certificate authority for them): decide which ones you accept in
	// Config.Validate, by fingerprint or public key.
	SelfSigned
	// All is Chained and SelfSigned.
	All = Chained | SelfSigned
)

// String returns "Chained", "SelfSigned" or "All".
func (t CertificateTypes) String() string {
	switch t {
	case 0, Chained:
		return "Chained"
	case SelfSigned:
		return "SelfSigned"
	case All:
		return "All"
	}
	return "CertificateTypes(" + strconv.Itoa(int(t)) + ")"
}
