package certauth

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// applied is a server after p.Apply: its TLSConfig, whether it routes
// "OPTIONS *" to its handler, and Apply's error.
type applied struct {
	tls     *tls.Config
	options bool
	err     error
}

// serveApplied serves h speaking pr from a server whose TLSConfig was base
// before p.Apply, and returns what Apply did; the server then serves its
// TLSConfig as Apply left it. The client trusts the PKI's root, names
// serverName in SNI ("" dials 127.0.0.1) and sends client (if not nil)
// whenever asked.
func serveApplied(t *testing.T, k *pki, p *Policy, base *tls.Config, h http.Handler, pr proto, client *tls.Certificate, serverName string, setup ...testserver.Setup) (*testserver.Server, applied) {
	t.Helper()
	var a applied
	s := testserver.Start(t, h, pr, append([]testserver.Setup{func(ts *httptest.Server) {
		ts.Config.TLSConfig = base
		a.err = p.Apply(ts.Config)
		a.tls, a.options = ts.Config.TLSConfig, ts.Config.DisableGeneralOptionsHandler
		// httptest serves ts.TLS; left on the server too, a TLSConfig
		// without "h2" would make Serve skip HTTP/2.
		ts.TLS, ts.Config.TLSConfig = ts.Config.TLSConfig, nil
	}}, setup...)...)
	tc := s.Transport.TLSClientConfig
	tc.RootCAs = k.root.pool()
	tc.ServerName = serverName
	if client != nil {
		sendAlways(tc, client)
	}
	return s, a
}

// plain answers "plain": an application that reads no identity.
var plain = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "plain") })

// TestApplyKeepsRequiredCertificates is the case of issue 11, hole 4: a
// server that requires and verifies client certificates, to which a policy
// that asks for none is applied. Apply used to make it NoClientCert, and a
// client without a certificate got 200. It must refuse, naming both
// settings, and leave the server as it was; with a policy that requires
// certificates too, both verifications hold.
func TestApplyKeepsRequiredCertificates(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			base := &tls.Config{
				Certificates: []tls.Certificate{k.server},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    k.root.pool(),
			}
			p := newPolicy(t, Config{})
			s, a := serveApplied(t, k, p, base, plain, pr, nil, "")
			assert.ErrorIs(t, a.err, ErrWeakerMode)
			assert.EqualError(t, a.err, "windhover/certauth: the policy would weaken the server's client authentication: "+
				"http.Server.TLSConfig.ClientAuth = RequireAndVerifyClientCert is stronger than Config.Mode = NoCertificate; "+
				"set Config.Mode = RequireCertificate (and Config.ClientCAs) to keep requiring certificates")
			assert.Same(t, base, a.tls, "the server is left as it was")
			assert.Equal(t, tls.RequireAndVerifyClientCert, base.ClientAuth)
			assert.False(t, a.options)
			code, _, err := get(s, "/", "")
			assert.Error(t, err, "a client without a certificate got %d", code)

			// A policy that requires certificates keeps crypto/tls's
			// verification and adds its own.
			p = newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool()})
			s, a = serveApplied(t, k, p, base, p.Handler(whoami), pr, nil, "")
			require.NoError(t, a.err)
			assert.Equal(t, tls.RequireAndVerifyClientCert, a.tls.ClientAuth)
			assert.True(t, a.options)
			code, _, err = get(s, "/", "")
			assert.Error(t, err, "a client without a certificate got %d", code)
			s.Transport.CloseIdleConnections() // a TLS 1.3 client may keep the refused one
			sendAlways(s.Transport.TLSClientConfig, &good)
			// The client may handshake more than once for one request (a
			// connection it retries the request on, under load): each one
			// it completed is counted once.
			var handshakes atomic.Uint64
			trace := &httptrace.ClientTrace{TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
				if err == nil {
					handshakes.Add(1)
				}
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.URL+"/", nil)
			require.NoError(t, err)
			res, err := s.Client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "alice", string(body))
			assert.NotZero(t, handshakes.Load())
			assert.Equal(t, handshakes.Load(), p.Stats().HandshakesAccepted)
		})
	}
}

// TestClientAuthRules applies every mode to a base with every ClientAuth:
// the result asks at least what base asked, keeps crypto/tls's verification
// where base had it, or is an error that says which mode would keep it.
func TestClientAuthRules(t *testing.T) {
	k := newPKI(t)
	const (
		none    = tls.NoClientCert
		request = tls.RequestClientCert
		any     = tls.RequireAnyClientCert
		given   = tls.VerifyClientCertIfGiven
		verify  = tls.RequireAndVerifyClientCert
	)
	// The policies accept self-signed certificates only, so they need no
	// ClientCAs and the advice does not name it.
	const (
		asking    = "AllowCertificate to keep asking for certificates"
		requiring = "RequireCertificate to keep requiring certificates"
	)
	for _, tc := range []struct {
		base tls.ClientAuthType
		want [numModes]tls.ClientAuthType // by Mode
		fix  [numModes]string             // by Mode: the error's advice
	}{
		{none, [numModes]tls.ClientAuthType{none, request, any}, [numModes]string{}},
		{request, [numModes]tls.ClientAuthType{0, request, any}, [numModes]string{asking, "", ""}},
		{any, [numModes]tls.ClientAuthType{0, 0, any}, [numModes]string{requiring, requiring, ""}},
		{given, [numModes]tls.ClientAuthType{0, given, verify}, [numModes]string{asking, "", ""}},
		{verify, [numModes]tls.ClientAuthType{0, 0, verify}, [numModes]string{requiring, requiring, ""}},
	} {
		for m := range numModes {
			p := newPolicy(t, Config{Mode: m, TrustedProxies: []string{"unix"}, AllowedTypes: SelfSigned})
			base := &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tc.base}
			cfg, err := p.TLSConfig(base)
			name := tc.base.String() + " under " + m.String()
			if tc.fix[m] != "" {
				assert.ErrorIs(t, err, ErrWeakerMode, name)
				assert.ErrorContains(t, err, "tls.Config.ClientAuth = "+tc.base.String()+" is stronger than Config.Mode = "+m.String(), name)
				assert.ErrorContains(t, err, "; set Config.Mode = "+tc.fix[m], name)
				continue
			}
			require.NoError(t, err, name)
			assert.Equal(t, tc.want[m], cfg.ClientAuth, name)
		}
	}
	// The advice names Config.ClientCAs only if it is missing and needed.
	p := newPolicy(t, Config{TrustedProxies: []string{"unix"}, ClientCAs: k.root.pool()})
	_, err := p.TLSConfig(&tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.RequestClientCert})
	assert.EqualError(t, err, "windhover/certauth: the policy would weaken the server's client authentication: "+
		"tls.Config.ClientAuth = RequestClientCert is stronger than Config.Mode = NoCertificate; set Config.Mode = AllowCertificate to keep asking for certificates")
	p = newPolicy(t, Config{})
	_, err = p.TLSConfig(&tls.Config{ClientAuth: tls.VerifyClientCertIfGiven})
	assert.ErrorContains(t, err, "set Config.Mode = AllowCertificate (and Config.ClientCAs) to keep asking for certificates")
}

// TestBothVerifications serves a base that has crypto/tls verify client
// certificates against its own ClientCAs, under a policy with other
// ClientCAs: a certificate must pass both, and neither pool is dropped.
func TestBothVerifications(t *testing.T) {
	k := newPKI(t)
	other := newCA(t, "Other Root")
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	bob, _ := other.issue(t, certOpts{cn: "bob"})
	stranger, _ := newCA(t, "Foreign").issue(t, certOpts{cn: "stranger"})
	serverPool := k.root.pool()
	serverPool.AddCert(other.cert)
	for _, pr := range tlsProtos {
		for _, tc := range []struct {
			name   string
			client *tls.Certificate
			body   string // "": the handshake fails
			reason Reason // counted by the policy, if it refused
		}{
			{"none", nil, "anonymous", 0},
			{"trusted by both", &alice, "alice", 0},
			{"trusted by the server only", &bob, "", ReasonUntrusted},
			{"trusted by neither", &stranger, "", 0}, // crypto/tls refuses first
		} {
			base := &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: serverPool}
			p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
			var chains int
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				chains = len(r.TLS.VerifiedChains)
				whoami(w, r)
			}))
			s, a := serveApplied(t, k, p, base, h, pr, tc.client, "")
			require.NoError(t, a.err)
			assert.Equal(t, tls.VerifyClientCertIfGiven, a.tls.ClientAuth)
			assert.Same(t, serverPool, a.tls.ClientCAs, "the server's pool is kept")
			code, body, err := get(s, "/", "")
			name := string(pr) + " " + tc.name
			st := p.Stats()
			if tc.body == "" {
				require.Error(t, err, name)
				if tc.reason != 0 {
					assert.Equal(t, uint64(1), st.Rejected[tc.reason], name)
				} else {
					assert.Zero(t, st.RejectedTotal(), name)
				}
				continue
			}
			require.NoError(t, err, name)
			assert.Equal(t, 200, code, name)
			assert.Equal(t, tc.body, body, name)
			if tc.client != nil {
				assert.Equal(t, 1, chains, "crypto/tls verified the chain: %s", name)
			}
		}
	}
}

// TestApplyKeepsTLSSettings checks over real handshakes that MinVersion and
// CipherSuites hold for the default host and for the per-host clones.
func TestApplyKeepsTLSSettings(t *testing.T) {
	k := newPKI(t)
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	hosts := map[string]Mode{"www.example.com": NoCertificate}
	for _, tc := range []struct {
		name   string
		base   *tls.Config
		client *tls.Config // a client the base refuses
	}{
		{"MinVersion", &tls.Config{MinVersion: tls.VersionTLS13}, &tls.Config{MaxVersion: tls.VersionTLS12}},
		{"CipherSuites", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
			&tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305}}},
	} {
		for _, serverName := range []string{"api.example.com", "www.example.com"} {
			name := tc.name + " " + serverName
			base := tc.base.Clone()
			base.Certificates = []tls.Certificate{k.server}
			p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), Hosts: hosts})
			s, a := serveApplied(t, k, p, base, p.Handler(whoami), h1tls, &alice, serverName)
			require.NoError(t, a.err, name)
			code, _, err := get(s, "/", serverName)
			require.NoError(t, err, name)
			assert.Equal(t, 200, code, name)

			tr := s.Transport.Clone()
			tr.TLSClientConfig.MaxVersion = tc.client.MaxVersion
			tr.TLSClientConfig.CipherSuites = tc.client.CipherSuites
			_, err = (&http.Client{Transport: tr}).Get(s.URL)
			assert.Error(t, err, "the base refuses this client: %s", name)
			tr.CloseIdleConnections()
		}
	}
}

// TestUserConfigForClient checks what the policy does to the configurations
// the user's GetConfigForClient chooses: one that asks more of clients than
// the server name's mode fails the handshake, naming both, rather than be
// weakened; one that does not keeps its settings.
func TestUserConfigForClient(t *testing.T) {
	k := newPKI(t)
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	var logs testserver.SyncBuffer
	base := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{
			Certificates: []tls.Certificate{k.server},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    k.root.pool(),
			MinVersion:   tls.VersionTLS13,
		}, nil
	}}
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), Hosts: map[string]Mode{"api.example.com": RequireCertificate}})
	for _, pr := range tlsProtos {
		s, a := serveApplied(t, k, p, base, p.Handler(whoami), pr, &alice, "www.example.com", func(ts *httptest.Server) {
			ts.Config.ErrorLog = log.New(&logs, "", 0)
		})
		require.NoError(t, a.err)
		code, _, err := get(s, "/", "")
		assert.Error(t, err, "www, whose mode asks for no certificate, got %d", code)
		testserver.Eventually(t, func() bool {
			return strings.Contains(logs.String(), `windhover/certauth: the policy would weaken the server's client authentication: `+
				`the tls.Config that GetConfigForClient returned for server name "www.example.com" has ClientAuth = RequireAndVerifyClientCert, stronger than its mode, NoCertificate`)
		}, "the handshake error is not logged: %s", logs.String())

		s.Transport.TLSClientConfig.ServerName = "api.example.com"
		code, body, err := get(s, "/", "")
		require.NoError(t, err, pr)
		assert.Equal(t, 200, code)
		assert.Equal(t, "alice", body)
		s.Transport.CloseIdleConnections()
		s.Transport.TLSClientConfig.MaxVersion = tls.VersionTLS12
		_, _, err = get(s, "/", "")
		assert.Error(t, err, "MinVersion of the user's choice is kept")
	}
}

// TestApplyKeepsClientCAs checks that a ClientCAs the base sets, even only
// to name the CAs to clients, is kept: the client is told the base's names.
func TestApplyKeepsClientCAs(t *testing.T) {
	k := newPKI(t)
	other := newCA(t, "Other Root")
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	base := &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.RequestClientCert, ClientCAs: other.pool()}
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
	s, a := serveApplied(t, k, p, base, p.Handler(whoami), h1tls, nil, "")
	require.NoError(t, a.err)
	var told [][]byte
	s.Transport.TLSClientConfig.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		told = info.AcceptableCAs
		return &alice, nil
	}
	code, body, err := get(s, "/", "")
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "alice", body)
	assert.Equal(t, [][]byte{other.cert.RawSubject}, told)
}

// TestApplyNeedsServerCertificates checks that a policy that asks for
// client certificates refuses a TLS configuration without the server's own,
// and that Apply then leaves the server as it was.
func TestApplyNeedsServerCertificates(t *testing.T) {
	k := newPKI(t)
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &k.server, nil }
	for _, cfg := range []Config{
		{Mode: RequireCertificate, ClientCAs: k.root.pool()},
		{ClientCAs: k.root.pool(), Hosts: map[string]Mode{"api.example.com": AllowCertificate}},
	} {
		p := newPolicy(t, cfg)
		srv := &http.Server{}
		err := p.Apply(srv)
		require.ErrorIs(t, err, ErrNoServerCertificates)
		assert.EqualError(t, err, `windhover/certauth: no server certificate: http.Server.TLSConfig has no Certificates, GetCertificate or GetConfigForClient, `+
			`but the policy asks clients for certificates; load the server's with tls.LoadX509KeyPair into http.Server.TLSConfig.Certificates (then ListenAndServeTLS("", "") uses them)`)
		assert.Nil(t, srv.TLSConfig)
		assert.False(t, srv.DisableGeneralOptionsHandler)
		_, err = p.TLSConfig(&tls.Config{MinVersion: tls.VersionTLS13})
		assert.ErrorContains(t, err, "windhover/certauth: no server certificate: tls.Config has no Certificates")

		for _, base := range []*tls.Config{{GetCertificate: getCert}, {Certificates: []tls.Certificate{k.server}}} {
			_, err := p.TLSConfig(base)
			assert.NoError(t, err)
		}
	}
	// A policy that asks for nothing needs nothing.
	p := newPolicy(t, Config{})
	srv := &http.Server{}
	require.NoError(t, p.Apply(srv))
	assert.Equal(t, tls.NoClientCert, srv.TLSConfig.ClientAuth)
	assert.True(t, srv.DisableGeneralOptionsHandler)
}

// TestApplyNamesHostEntry checks that the error names the Config.Hosts
// entry, as written, whose mode is too weak.
func TestApplyNamesHostEntry(t *testing.T) {
	k := newPKI(t)
	p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), Hosts: map[string]Mode{
		"api.example.com": RequireCertificate,
		"www.Example.com": NoCertificate,
		"*.example.com":   AllowCertificate,
	}})
	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.RequireAnyClientCert}}
	err := p.Apply(srv)
	assert.EqualError(t, err, `windhover/certauth: the policy would weaken the server's client authentication: `+
		`http.Server.TLSConfig.ClientAuth = RequireAnyClientCert is stronger than Config.Hosts["*.example.com"] = AllowCertificate; `+
		`set Config.Hosts["*.example.com"] = RequireCertificate to keep requiring certificates`)
}
