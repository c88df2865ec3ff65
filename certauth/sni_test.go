package certauth

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestPerHostModes makes real handshakes with server names under different
// modes, and sends requests whose Host is not the connection's server name.
func TestPerHostModes(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			var rejected []error
			p := newPolicy(t, Config{
				ClientCAs: k.root.pool(),
				Hosts: map[string]Mode{
					"api.example.com": RequireCertificate,
					"APP.example.com": AllowCertificate,
					"www.example.com": NoCertificate,
				},
				OnReject: func(_ *http.Request, err error) { rejected = append(rejected, err) },
			})
			for _, tc := range []struct {
				name       string
				serverName string
				client     *tls.Certificate
				host       string // "" for the server name
				status     int    // 0: the handshake fails
				body       string
			}{
				{name: "api without a certificate", serverName: "api.example.com"},
				{name: "api with one", serverName: "api.example.com", client: &good, status: 200, body: "alice"},
				{name: "www is not asked", serverName: "www.example.com", client: &good, status: 200, body: "anonymous"},
				{name: "no server name: the default mode", serverName: "", client: &good, status: 200, body: "anonymous"},
				{name: "app allows none", serverName: "app.example.com", status: 200, body: "anonymous"},
				{name: "app allows one", serverName: "app.example.com", client: &good, status: 200, body: "alice"},
				{name: "www connection, api host", serverName: "www.example.com", client: &good, host: "api.example.com", status: 421, body: "Misdirected Request\n"},
				{name: "www connection, app host", serverName: "www.example.com", client: &good, host: "app.example.com:443", status: 421, body: "Misdirected Request\n"},
				{name: "no server name, api host", serverName: "", client: &good, host: "API.example.com.", status: 421, body: "Misdirected Request\n"},
				{name: "app connection without one, api host", serverName: "app.example.com", host: "api.example.com", status: 421, body: "Misdirected Request\n"},
				{name: "app connection with one, api host", serverName: "app.example.com", client: &good, host: "api.example.com", status: 200, body: "alice"},
				{name: "api connection, www host", serverName: "api.example.com", client: &good, host: "www.example.com", status: 200, body: "alice"},
				{name: "api connection, app host", serverName: "api.example.com", client: &good, host: "app.example.com", status: 200, body: "alice"},
				{name: "www connection, unknown host", serverName: "www.example.com", host: "other.example.com", status: 200, body: "anonymous"},
			} {
				s := serveTLS(t, k, p, whoami, pr, tc.client, tc.serverName)
				code, body, err := get(s, "/", tc.host)
				if tc.status == 0 {
					require.Error(t, err, tc.name)
					continue
				}
				require.NoError(t, err, tc.name)
				assert.Equal(t, tc.status, code, tc.name)
				assert.Equal(t, tc.body, body, tc.name)
			}
			st := p.Stats()
			assert.Equal(t, uint64(4), st.Rejected[ReasonMisdirected])
			require.Len(t, rejected, 4)
			var e *Error
			require.ErrorAs(t, rejected[0], &e)
			assert.Equal(t, "api.example.com", e.Host)
			assert.Equal(t, "www.example.com", e.ServerName)
		})
	}
}

// TestPerHostHTTP2 checks that hosts whose configuration is a clone still
// negotiate HTTP/2 when the server speaks it, and HTTP/1.1 when it does
// not, though the base config names no protocol.
func TestPerHostHTTP2(t *testing.T) {
	k := newPKI(t)
	good, _ := k.root.issue(t, certOpts{cn: "alice"})
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), Hosts: map[string]Mode{"api.example.com": RequireCertificate}})
	for _, tc := range []struct {
		pr    proto
		major int
	}{{h2tls, 2}, {h1tls, 1}} {
		s := serveTLS(t, k, p, whoami, tc.pr, &good, "api.example.com", func(ts *httptest.Server) {
			if tc.pr == h1tls {
				ts.Config.Protocols = new(http.Protocols)
				ts.Config.Protocols.SetHTTP1(true)
			}
		})
		if tc.pr == h1tls {
			// The server speaks HTTP/1 only; the client would take either.
			s.Transport.Protocols.SetHTTP2(true)
		}
		res, err := s.Client.Get(s.URL)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, tc.major, res.ProtoMajor, string(tc.pr))
	}
}

func TestHostModesLookup(t *testing.T) {
	h, err := newHostModes(AllowCertificate, map[string]Mode{
		"api.example.com":     RequireCertificate,
		"*.example.com":       NoCertificate,
		"*.admin.example.com": RequireCertificate,
		"Upper.Example.COM.":  RequireCertificate,
	})
	require.NoError(t, err)
	for name, want := range map[string]Mode{
		"api.example.com":       RequireCertificate,
		"API.EXAMPLE.COM":       RequireCertificate,
		"api.example.com.":      RequireCertificate,
		"upper.example.com":     RequireCertificate,
		"www.example.com":       NoCertificate,
		"a.b.example.com":       NoCertificate,
		"example.com":           AllowCertificate,
		"x.admin.example.com":   RequireCertificate,
		"admin.example.com":     NoCertificate,
		"..example.com":         AllowCertificate,
		"x..example.com":        AllowCertificate,
		".example.com":          AllowCertificate,
		"":                      AllowCertificate,
		"127.0.0.1":             AllowCertificate,
		"notexample.com":        AllowCertificate,
		"evil.com.example.com2": AllowCertificate,
	} {
		assert.Equal(t, want, h.lookup(name), name)
	}
	for hostport, want := range map[string]string{
		"a.example.com:443": "a.example.com",
		"a.example.com":     "a.example.com",
		"[::1]:443":         "::1",
		"[::1]":             "::1",
		"::1":               "::1",
		"[::1":              "[::1",
		"":                  "",
	} {
		assert.Equal(t, want, hostOnly(hostport), hostport)
	}
	for _, bad := range []string{"", "*", "*.", "a..b", "10.0.0.1", "::1", "a.example.com:443", "*.*.example.com", "a b.com", "ex*ample.com"} {
		_, err := newHostModes(0, map[string]Mode{bad: RequireCertificate})
		assert.ErrorContains(t, err, "windhover/certauth: Config.Hosts", bad)
	}
	_, err = newHostModes(0, map[string]Mode{"a.com": RequireCertificate, "A.com.": NoCertificate})
	assert.ErrorContains(t, err, "repeats")
	_, err = newHostModes(0, map[string]Mode{"a.com": 7})
	assert.ErrorContains(t, err, `Config.Hosts["a.com"] = Mode(7) is not a Mode`)
}
