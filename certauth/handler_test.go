package certauth

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestRequire guards one route with Require on a host that allows
// certificates.
func TestRequire(t *testing.T) {
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
			mux := http.NewServeMux()
			mux.Handle("/admin", p.Require(whoami))
			mux.Handle("/", whoami)
			for _, tc := range []struct {
				client *tls.Certificate
				path   string
				status int
				body   string
			}{
				{nil, "/", 200, "anonymous"},
				{nil, "/admin", 403, "Forbidden\n"},
				{&good, "/", 200, "alice"},
				{&good, "/admin", 200, "alice"},
			} {
				s := serveTLS(t, k, p, mux, pr, tc.client, "")
				code, body, err := get(s, tc.path, "")
				require.NoError(t, err)
				assert.Equal(t, tc.status, code, tc.path)
				assert.Equal(t, tc.body, body, tc.path)
			}
			st := p.Stats()
			assert.Equal(t, uint64(1), st.Rejected[ReasonNoCertificate])
			assert.Equal(t, uint64(2), st.Accepted, "Require behind Handler counts nothing twice")
		})
	}
}

// TestExpiryDuringKeepAlive lets a certificate expire between two requests
// on one connection: the second is refused and the connection closed, so
// that the third needs a new handshake, which fails.
func TestExpiryDuringKeepAlive(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			t.Parallel()
			short, leaf := k.root.issue(t, certOpts{cn: "short", notAfter: time.Now().Add(2 * time.Second)})
			p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool()})
			var conns atomic.Int32
			s := serveTLS(t, k, p, whoami, pr, &short, "", func(ts *httptest.Server) {
				ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						conns.Add(1)
					}
				}
			})
			code, body, err := get(s, "/", "")
			require.NoError(t, err)
			require.Equal(t, 200, code)
			require.Equal(t, "short", body)

			time.Sleep(time.Until(leaf.NotAfter) + 100*time.Millisecond)
			req, _ := http.NewRequest("GET", s.URL+"/", nil)
			var reused bool
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
			}))
			res, err := s.Client.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			assert.True(t, reused, "the same connection")
			assert.Equal(t, 403, res.StatusCode)
			if pr == h1tls {
				assert.True(t, res.Close, "the connection is closed")
			}
			assert.Equal(t, uint64(1), p.Stats().Rejected[ReasonExpired])
			_, _, err = get(s, "/", "")
			require.Error(t, err, "a new handshake fails")
			assert.Equal(t, int32(2), conns.Load())
		})
	}
}

// TestRevokedDuringKeepAlive revokes the certificate of an open connection
// by reloading the CRL.
func TestRevokedDuringKeepAlive(t *testing.T) {
	k := newPKI(t)
	cert, leaf := k.root.issue(t, certOpts{cn: "alice"})
	path := writeFile(t, "crl.pem", k.root.crlPEM(t, time.Now().Add(time.Hour)))
	p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), CRLFiles: []string{path}})
	s := serveTLS(t, k, p, whoami, h2tls, &cert, "")
	code, _, err := get(s, "/", "")
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.NoError(t, os.WriteFile(path, k.root.crlPEM(t, time.Now().Add(time.Hour), leaf), 0o600))
	require.NoError(t, p.Reload())
	code, _, err = get(s, "/", "")
	require.NoError(t, err)
	assert.Equal(t, 403, code)
	assert.Equal(t, uint64(1), p.Stats().Rejected[ReasonRevoked])
}

// TestSessionResumptionRevalidates resumes a TLS session after the
// certificate it carried was revoked: the resumed handshake fails.
func TestSessionResumptionRevalidates(t *testing.T) {
	k := newPKI(t)
	cert, leaf := k.root.issue(t, certOpts{cn: "alice"})
	path := writeFile(t, "crl.pem", k.root.crlPEM(t, time.Now().Add(time.Hour)))
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool(), CRLFiles: []string{path}})
	s := serveTLS(t, k, p, whoami, h1tls, nil, "")
	cc := &tls.Config{RootCAs: k.root.pool(), ClientSessionCache: tls.NewLRUClientSessionCache(4), Certificates: []tls.Certificate{cert}}
	dial := func() (tls.ConnectionState, error) {
		c, err := tls.Dial("tcp", s.Addr(), cc)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer c.Close()
		// TLS 1.3 tickets arrive after the handshake, and a refused
		// certificate shows on the first read: make one round trip.
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return c.ConnectionState(), err
		}
		buf := make([]byte, 512)
		_, err = c.Read(buf)
		return c.ConnectionState(), err
	}
	st, err := dial()
	require.NoError(t, err)
	require.False(t, st.DidResume)
	st, err = dial()
	require.NoError(t, err)
	require.True(t, st.DidResume, "the session is resumed")
	assert.Equal(t, uint64(2), p.Stats().HandshakesAccepted, "and its certificate validated again")

	require.NoError(t, os.WriteFile(path, k.root.crlPEM(t, time.Now().Add(time.Hour), leaf), 0o600))
	require.NoError(t, p.Reload())
	_, err = dial()
	require.Error(t, err)
	assert.Equal(t, uint64(1), p.Stats().Rejected[ReasonRevoked])
}

func TestCheck(t *testing.T) {
	k := newPKI(t)
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	_, old := k.root.issue(t, certOpts{cn: "old", notBefore: timeAgo(48), notAfter: timeAgo(24)})
	var rejected []error
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool(), OnReject: func(_ *http.Request, err error) { rejected = append(rejected, err) }})

	r := httptest.NewRequest("GET", "https://x/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}
	id, err := p.Check(r)
	require.NoError(t, err)
	assert.Equal(t, alice, id.Certificate)

	r.TLS = &tls.ConnectionState{}
	r.Header.Set("X-Client-Cert", b64DER(alice))
	id, err = p.Check(r)
	require.NoError(t, err)
	assert.Nil(t, id)
	assert.Empty(t, r.Header.Get("X-Client-Cert"), "removed: nobody is trusted")

	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{old}, ServerName: "x"}
	id, err = p.Check(r)
	assert.Nil(t, id)
	assert.ErrorIs(t, err, ErrExpired)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 403, e.Reason.Status())
	assert.Equal(t, "x", e.ServerName)
	assert.Len(t, rejected, 1)
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Accepted)
	assert.Equal(t, uint64(1), st.ForwardedIgnored)
	assert.Equal(t, uint64(1), st.Rejected[ReasonExpired])
}

func TestNewErrors(t *testing.T) {
	pool := x509.NewCertPool()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Mode: 3}, "windhover/certauth: Config.Mode = Mode(3) is not"},
		{Config{Mode: AllowCertificate}, "windhover/certauth: Config.ClientCAs = nil but chained client certificates need a trust store"},
		{Config{Hosts: map[string]Mode{"a.example.com": RequireCertificate}}, "Config.ClientCAs = nil"},
		{Config{TrustedProxies: []string{"unix"}}, "Config.ClientCAs = nil"},
		{Config{ClientCAs: pool, AllowedTypes: 4}, "Config.AllowedTypes = CertificateTypes(4) is not"},
		{Config{ClientCAs: pool, CacheExpiry: -1}, "Config.CacheExpiry = -1ns must not be negative"},
		{Config{ClientCAs: pool, TrustedProxies: []string{"10.0.0.1/8"}}, `Config.TrustedProxies = [10.0.0.1/8] is invalid: "10.0.0.1/8" has host bits set`},
		{Config{ClientCAs: pool, ForwardedHeader: "X Client"}, `Config.ForwardedHeader = "X Client" is not a header field name`},
		{Config{ClientCAs: pool, Hosts: map[string]Mode{"a:1": 1}}, `Config.Hosts = "a:1" is not a host name`},
	} {
		_, err := New(tc.cfg)
		assert.ErrorContains(t, err, tc.want)
	}
	for _, ok := range []Config{
		{},
		{Mode: AllowCertificate, AllowedTypes: SelfSigned},
		{Hosts: map[string]Mode{"a.example.com": NoCertificate}},
		{ClientCAs: pool, ForwardedHeader: "X-SSL-Client-Cert", CacheSize: -1},
	} {
		_, err := New(ok)
		assert.NoError(t, err)
	}
}

// TestRawClientSpoofsHeader sends the header with raw bytes, in several
// spellings, from an untrusted peer.
func TestRawClientSpoofsHeader(t *testing.T) {
	k := newPKI(t)
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"192.0.2.0/24"}})
	s := testserver.Start(t, p.Require(whoami), h1)
	for _, name := range []string{"X-Client-Cert", "x-client-cert", "X-CLIENT-CERT"} {
		c := testserver.Dial(t, s.Addr())
		c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n"+name+": "+b64DER(alice)+"\r\n\r\n")
		res, body := c.Response(t)
		assert.Equal(t, 403, res.StatusCode, name)
		assert.Equal(t, "Forbidden\n", body)
		assert.False(t, res.Close, "a refused forwarded certificate does not close the connection")
	}
	assert.Equal(t, uint64(3), p.Stats().ForwardedIgnored)
}

// TestCustomHeaderNoCache forwards in another header, with the cache off.
func TestCustomHeaderNoCache(t *testing.T) {
	k := newPKI(t)
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"192.0.2.0/24"}, ForwardedHeader: "x-ssl-client-cert", CacheSize: -1})
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil) // from 192.0.2.1
		r.Header.Set("X-SSL-Client-Cert", nginxEscaped(alice))
		r.Header.Set("X-Client-Cert", "ignored")
		id, err := p.Check(r)
		require.NoError(t, err)
		require.NotNil(t, id)
		assert.True(t, id.Forwarded)
		assert.Equal(t, "ignored", r.Header.Get("X-Client-Cert"), "another header is none of the policy's business")
	}
	st := p.Stats()
	assert.Equal(t, uint64(3), st.ForwardedAccepted)
	assert.Zero(t, st.CacheHits+st.CacheMisses, "no cache: every request is validated")
	assert.Zero(t, st.CacheEntries)
}

// TestForwardedHeaderWithoutValues: a header key with no values, as only
// code can make it, from a trusted proxy is no certificate.
func TestForwardedHeaderWithoutValues(t *testing.T) {
	k := newPKI(t)
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"192.0.2.0/24"}})
	r := httptest.NewRequest("GET", "/", nil) // from 192.0.2.1
	r.Header[DefaultForwardedHeader] = []string{}
	id, err := p.Check(r)
	require.NoError(t, err)
	assert.Nil(t, id)
}
