package certauth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
)

// Identity is a validated client certificate: what a request carries once a
// [Policy] has accepted the certificate of its connection, or one forwarded
// by a trusted proxy. Identities are shared between the requests that present
// the same certificate and must not be modified.
type Identity struct {
	// Certificate is the client's certificate.
	Certificate *x509.Certificate
	// Chain is the verified chain, from Certificate to a root of
	// Config.ClientCAs; a self-signed certificate is its own chain.
	Chain []*x509.Certificate
	// Fingerprint is the SHA-256 digest of the certificate's DER encoding.
	Fingerprint [sha256.Size]byte
	// Subject is the certificate's subject in RFC 2253 form, such as
	// "CN=alice,O=Example".
	Subject string
	// SelfSigned reports whether the certificate is signed with its own key.
	SelfSigned bool
	// Forwarded reports whether a trusted proxy forwarded the certificate in
	// a header, rather than the client presenting it in this connection's
	// handshake.
	Forwarded bool
}

// FingerprintHex returns Fingerprint in lowercase hexadecimal.
func (id *Identity) FingerprintHex() string { return hex.EncodeToString(id.Fingerprint[:]) }

// SANs returns the certificate's subject alternative names as strings: DNS
// names, email addresses, IP addresses and URIs, in that order.
func (id *Identity) SANs() []string {
	c := id.Certificate
	sans := make([]string, 0, len(c.DNSNames)+len(c.EmailAddresses)+len(c.IPAddresses)+len(c.URIs))
	sans = append(sans, c.DNSNames...)
	sans = append(sans, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	return sans
}

type identityKey struct{}

// FromContext returns the identity a certauth handler validated for the
// request whose context ctx is, or nil if it carries none.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// FromRequest returns the identity a certauth handler ([Policy.Handler] or
// [Policy.Require]) validated for r, or nil if r carries none. Without such a
// handler in front it is always nil, even when r.TLS holds certificates: only
// what the policy validated counts.
func FromRequest(r *http.Request) *Identity { return FromContext(r.Context()) }

func withIdentity(r *http.Request, id *Identity) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}
