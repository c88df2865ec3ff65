package certauth

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestModes makes real handshakes under each mode, with no certificate, a
// valid one, and invalid ones, over HTTP/1.1 and HTTP/2.
func TestModes(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	serverAuth, _ := k.root.issue(t, certOpts{cn: "mallory", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	stranger, _ := newCA(t, "Foreign").issue(t, certOpts{cn: "stranger"})

	type outcome struct {
		body   string // "" for a failed handshake
		reason Reason
	}
	for _, pr := range tlsProtos {
		for _, tc := range []struct {
			mode                        Mode
			none, valid, eku, untrusted outcome
		}{
			{mode: NoCertificate, none: outcome{body: "anonymous"}, valid: outcome{body: "anonymous"},
				eku: outcome{body: "anonymous"}, untrusted: outcome{body: "anonymous"}},
			{mode: AllowCertificate, none: outcome{body: "anonymous"}, valid: outcome{body: "alice"},
				eku: outcome{reason: ReasonNotForClientAuth}, untrusted: outcome{reason: ReasonUntrusted}},
			{mode: RequireCertificate, none: outcome{}, valid: outcome{body: "alice"},
				eku: outcome{reason: ReasonNotForClientAuth}, untrusted: outcome{reason: ReasonUntrusted}},
		} {
			t.Run(string(pr)+"/"+tc.mode.String(), func(t *testing.T) {
				for _, c := range []struct {
					name   string
					client *tls.Certificate
					want   outcome
				}{
					{"none", nil, tc.none},
					{"valid", &good, tc.valid},
					{"server EKU", &serverAuth, tc.eku},
					{"untrusted", &stranger, tc.untrusted},
				} {
					p := newPolicy(t, Config{Mode: tc.mode, ClientCAs: k.root.pool()})
					s := serveTLS(t, k, p, whoami, pr, c.client, "")
					code, body, err := get(s, "/", "")
					st := p.Stats()
					if c.want.body == "" {
						// The client's error depends on when the alert
						// arrives (TLS 1.3 clients finish first): the
						// server's counters tell what happened.
						require.Error(t, err, c.name)
						if tc.mode == RequireCertificate && c.client == nil {
							assert.Zero(t, st.HandshakeFailures, "crypto/tls refused it itself")
							continue
						}
						assert.Equal(t, uint64(1), st.HandshakeFailures, c.name)
						assert.Equal(t, uint64(1), st.Rejected[c.want.reason], c.name)
						continue
					}
					require.NoError(t, err, c.name)
					assert.Equal(t, http.StatusOK, code, c.name)
					assert.Equal(t, c.want.body, body, c.name)
					assert.Zero(t, st.RejectedTotal(), c.name)
					if c.want.body == "alice" {
						assert.Equal(t, uint64(1), st.HandshakesAccepted, c.name)
						assert.Equal(t, uint64(1), st.Accepted, c.name)
					}
				}
			})
		}
	}
}

// TestHandshakeOnReject checks what OnReject hears of a handshake.
func TestHandshakeOnReject(t *testing.T) {
	k := newPKI(t)
	expired, _ := k.root.issue(t, certOpts{cn: "old", notBefore: timeAgo(48), notAfter: timeAgo(24)})
	var got []error
	var reqs []*http.Request
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool(), OnReject: func(r *http.Request, err error) {
		reqs, got = append(reqs, r), append(got, err)
	}})
	s := serveTLS(t, k, p, whoami, h1tls, &expired, "app.example.com")
	_, _, err := get(s, "/", "")
	require.Error(t, err)
	require.Len(t, got, 1)
	assert.Nil(t, reqs[0])
	var e *Error
	require.ErrorAs(t, got[0], &e)
	assert.Equal(t, ReasonExpired, e.Reason)
	assert.True(t, e.Handshake)
	assert.Equal(t, "app.example.com", e.ServerName)
	assert.Equal(t, "CN=old,O=windhover test", e.Subject)
}

// TestTLSConfigKeepsBase checks that what the user set on the base config
// survives, and that their hooks still run.
func TestTLSConfigKeepsBase(t *testing.T) {
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	var verifyConn, verifyPeer, chose int
	base := &tls.Config{
		Certificates: []tls.Certificate{k.server},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
		ClientAuth:   tls.RequestClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			verifyConn++
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			if cs.PeerCertificates[0].Subject.CommonName != "alice" {
				return errUser
			}
			return nil
		},
		VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { verifyPeer++; return nil },
	}
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
	cfg, err := p.TLSConfig(base)
	require.NoError(t, err)
	assert.Nil(t, base.ClientCAs, "base is not changed")
	assert.Equal(t, tls.RequestClientCert, cfg.ClientAuth)
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	assert.Equal(t, []string{"http/1.1"}, cfg.NextProtos)

	s := testserver.Start(t, p.Handler(whoami), h1tls, func(ts *httptestServer) { ts.TLS = cfg })
	s.Transport.TLSClientConfig.RootCAs = k.root.pool()
	sendAlways(s.Transport.TLSClientConfig, &good)
	code, body, err := get(s, "/", "")
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "alice", body)
	assert.Equal(t, 1, verifyConn)
	assert.Equal(t, 1, verifyPeer)

	// The user's GetConfigForClient chooses, and the mode is applied to its
	// choice.
	base.VerifyConnection = nil
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		chose++
		return &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.NoClientCert}, nil
	}
	p = newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool()})
	cfg, err = p.TLSConfig(base)
	require.NoError(t, err)
	s = testserver.Start(t, p.Handler(whoami), h1tls, func(ts *httptestServer) { ts.TLS = cfg })
	s.Transport.TLSClientConfig.RootCAs = k.root.pool()
	_, _, err = get(s, "/", "")
	require.Error(t, err, "RequireCertificate applies to the user's config")
	assert.Equal(t, 1, chose)
	sendAlways(s.Transport.TLSClientConfig, &good)
	_, body, err = get(s, "/", "")
	require.NoError(t, err)
	assert.Equal(t, "alice", body)
}

func TestClientCAsHint(t *testing.T) {
	k := newPKI(t)
	base := &tls.Config{Certificates: []tls.Certificate{k.server}}
	for types, hinted := range map[CertificateTypes]bool{0: true, Chained: true, SelfSigned: false, All: false} {
		p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool(), AllowedTypes: types})
		cfg, err := p.TLSConfig(base)
		require.NoError(t, err)
		assert.Equal(t, hinted, cfg.ClientCAs != nil, types.String())
	}
	assert.True(t, strings.HasPrefix(Mode(9).String(), "Mode("))
	assert.Equal(t, "CertificateTypes(9)", CertificateTypes(9).String())
}

// TestHandshakeValidation makes real handshakes with each kind of
// certificate the validation options judge.
func TestHandshakeValidation(t *testing.T) {
	k := newPKI(t)
	chained, _ := k.inter.issue(t, certOpts{cn: "chained"}, k.inter.cert)
	chainCut, _ := k.inter.issue(t, certOpts{cn: "chain-cut"})
	notYet, _ := k.root.issue(t, certOpts{cn: "not-yet", notBefore: timeAgo(-1), notAfter: timeAgo(-24)})
	self, _ := selfSigned(t, certOpts{cn: "self"})
	noEKU, _ := k.root.issue(t, certOpts{cn: "no-eku", noEKU: true})
	serverEKU, _ := k.root.issue(t, certOpts{cn: "server-eku", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	revoked, revokedLeaf := k.inter.issue(t, certOpts{cn: "revoked"}, k.inter.cert)
	crls := []string{
		writeFile(t, "root.crl", k.root.crlPEM(t, timeAgo(-1))),
		writeFile(t, "inter.crl", k.inter.crlPEM(t, timeAgo(-1), revokedLeaf)),
	}
	for _, pr := range tlsProtos {
		for _, tc := range []struct {
			name   string
			cfg    Config
			client tls.Certificate
			reason Reason
			ok     bool
		}{
			{name: "intermediate sent", client: chained, ok: true},
			{name: "intermediate not sent", client: chainCut, reason: ReasonUntrusted},
			{name: "not yet valid", client: notYet, reason: ReasonNotYetValid},
			{name: "self-signed refused", client: self, reason: ReasonSelfSigned},
			{name: "self-signed allowed", cfg: Config{AllowedTypes: All}, client: self, ok: true},
			{name: "no EKU", client: noEKU, ok: true},
			{name: "server EKU skipped", cfg: Config{SkipClientAuthEKU: true}, client: serverEKU, ok: true},
			{name: "revoked", cfg: Config{CRLFiles: crls}, client: revoked, reason: ReasonRevoked},
			{name: "CRLs, good", cfg: Config{CRLFiles: crls}, client: chained, ok: true},
		} {
			cfg := tc.cfg
			cfg.Mode, cfg.ClientCAs = AllowCertificate, k.root.pool()
			p := newPolicy(t, cfg)
			s := serveTLS(t, k, p, whoami, pr, &tc.client, "")
			code, body, err := get(s, "/", "")
			name := string(pr) + " " + tc.name
			if tc.ok {
				require.NoError(t, err, name)
				assert.Equal(t, 200, code, name)
				assert.Equal(t, tc.client.Leaf.Subject.CommonName, body, name)
				continue
			}
			require.Error(t, err, name)
			assert.Equal(t, uint64(1), p.Stats().Rejected[tc.reason], name)
		}
	}
}
