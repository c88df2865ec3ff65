package certauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// The protocols, by their short names.
const (
	h1    = testserver.H1
	h1tls = testserver.H1TLS
	h2tls = testserver.H2
	h2c   = testserver.H2C
)

type proto = testserver.Proto

// tlsProtos are the protocols over TLS, where client certificates live.
var tlsProtos = []proto{h1tls, h2tls}

var serial atomic.Int64

// ca is a certificate authority made in the test.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certOpts describe a certificate to issue. Zero fields mean a client
// certificate for client authentication, valid from an hour ago for a day.
type certOpts struct {
	cn        string
	eku       []x509.ExtKeyUsage // nil: client auth
	noEKU     bool
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
	dns       []string
	ips       []net.IP
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func template(o certOpts) *x509.Certificate {
	now := time.Now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: o.cn, Organization: []string{"windhover test"}},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     o.dns,
		IPAddresses:  o.ips,
	}
	switch {
	case o.isCA:
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case o.noEKU:
	case o.eku != nil:
		tmpl.ExtKeyUsage = o.eku
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return tmpl
}

// newCA returns a self-signed root.
func newCA(t testing.TB, cn string) *ca {
	t.Helper()
	key := newKey(t)
	tmpl := template(certOpts{cn: cn, isCA: true, notAfter: time.Now().Add(10 * 24 * time.Hour)})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &ca{cert: cert, key: key}
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// issue returns a certificate signed by c, with its key, as a
// tls.Certificate whose chain is the leaf followed by chain.
func (c *ca) issue(t testing.TB, o certOpts, chain ...*x509.Certificate) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := template(o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	tc := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	for _, ch := range chain {
		tc.Certificate = append(tc.Certificate, ch.Raw)
	}
	return tc, cert
}

// intermediate returns a CA issued by c.
func (c *ca) intermediate(t testing.TB, cn string) *ca {
	t.Helper()
	key := newKey(t)
	tmpl := template(certOpts{cn: cn, isCA: true, notAfter: time.Now().Add(5 * 24 * time.Hour)})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &ca{cert: cert, key: key}
}

// selfSigned returns a self-signed client certificate.
func selfSigned(t testing.TB, o certOpts) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := template(o)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert
}

// crlPEM returns a CRL of c revoking certs, valid until next.
func (c *ca) crlPEM(t testing.TB, next time.Time, revoked ...*x509.Certificate) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(serial.Add(1)),
		ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: next,
	}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// pemOf returns cert in PEM.
func pemOf(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// clock is a settable clock for Config.Time.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := new(clock)
	c.set(t)
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// pki is the test's world: a root, an intermediate, and the server's
// certificate for the names the SNI tests use.
type pki struct {
	root, inter *ca
	server      tls.Certificate
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	root := newCA(t, "Test Root")
	server, _ := root.issue(t, certOpts{
		cn:  "server",
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		dns: []string{"api.example.com", "www.example.com", "app.example.com", "localhost"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	return &pki{root: root, inter: root.intermediate(t, "Test Intermediate"), server: server}
}

// newPolicy returns a Policy for cfg or fails the test.
func newPolicy(t testing.TB, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	require.NoError(t, err)
	return p
}

// whoami answers with the subject of the request's identity, "forwarded "
// before it if a proxy forwarded it, or "anonymous"; and with the forwarded
// header as it reached the handler, if any.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id := FromRequest(r)
	switch {
	case id == nil:
		_, _ = io.WriteString(w, "anonymous")
	case id.Forwarded:
		_, _ = io.WriteString(w, "forwarded "+id.Certificate.Subject.CommonName)
	default:
		_, _ = io.WriteString(w, id.Certificate.Subject.CommonName)
	}
	if v := r.Header.Get(DefaultForwardedHeader); v != "" {
		_, _ = io.WriteString(w, " header:"+v[:min(len(v), 8)])
	}
})

// serveTLS serves h behind p's Handler over TLS (p's TLSConfig with the
// PKI's server certificate), speaking pr. The client trusts the root, sends
// client (if not nil) whenever asked, and names serverName in SNI ("" for none:
// it dials 127.0.0.1).
func serveTLS(t testing.TB, k *pki, p *Policy, h http.Handler, pr proto, client *tls.Certificate, serverName string, setup ...testserver.Setup) *testserver.Server {
	t.Helper()
	s := testserver.Start(t, p.Handler(h), pr, append([]testserver.Setup{func(ts *httptest.Server) {
		cfg, err := p.TLSConfig(&tls.Config{Certificates: []tls.Certificate{k.server}})
		require.NoError(t, err)
		ts.TLS = cfg
	}}, setup...)...)
	tc := s.Transport.TLSClientConfig
	tc.RootCAs = k.root.pool()
	tc.ServerName = serverName
	if client != nil {
		sendAlways(tc, client)
	}
	return s
}

// sendAlways makes tc send cert whenever the server asks for one, whether
// or not it is issued by a CA the server named: the tests want the server
// to judge.
func sendAlways(tc *tls.Config, cert *tls.Certificate) {
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
}

// get sends a GET for path with host as Host (if not empty) and returns the
// status and body, or the request's error.
func get(s *testserver.Server, path, host string) (int, string, error) {
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// pemDecode returns the bytes of the first PEM block of data.
func pemDecode(data []byte) ([]byte, string) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, ""
	}
	return b.Bytes, b.Type
}

type httptestServer = httptest.Server

var errUser = errors.New("the user's VerifyConnection refuses")

// timeAgo returns the time hours ago.
func timeAgo(hours int) time.Time { return time.Now().Add(-time.Duration(hours) * time.Hour) }
