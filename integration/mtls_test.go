//go:build integration

package integration

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testcert"
)

// mtlsSetup is a CA, a server certificate for localhost and its subdomains
// api and www, and a client certificate, as files for curl and openssl.
type mtlsSetup struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
}

func newMTLS(t *testing.T) mtlsSetup {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "windhover integration CA")
	var m mtlsSetup
	m.caFile = ca.WriteCA(t, dir)
	m.serverCert, m.serverKey = ca.Server(t, "api.localhost", "www.localhost").Write(t, dir, "server")
	m.clientCert, m.clientKey = ca.Client(t, "alice").Write(t, dir, "alice")
	return m
}

func (m mtlsSetup) serverArgs(extra ...string) []string {
	return append([]string{"-tls-cert", m.serverCert, "-tls-key", m.serverKey, "-client-ca", m.caFile,
		"-allowed-hosts", "localhost;*.localhost;127.0.0.1"}, extra...)
}

// curl fetches path from host (resolved to the server) with or without
// the client certificate, over HTTP/1.1 or HTTP/2, as curlHTTPS does.
func (m mtlsSetup) curl(t *testing.T, s *server, host, path string, withCert bool, proto string, extra ...string) (string, string, int) {
	t.Helper()
	args := []string{proto}
	if withCert {
		args = append(args, "--cert", m.clientCert, "--key", m.clientKey)
	}
	return curlHTTPS(t, m.caFile, host, s.port(), path, append(args, extra...)...)
}

// TestMTLSModes drives each client-certificate mode of the example server
// with curl over HTTP/1.1 and HTTP/2.
func TestMTLSModes(t *testing.T) {
	m := newMTLS(t)
	for _, tc := range []struct {
		mode            string
		withoutHome     string // GET / without a certificate
		withoutWhoami   string // GET /whoami without one
		withWhoami      string // GET /whoami with alice's
		withoutHandshok bool
	}{
		{"none", "200", "403", "403", true},
		{"allow", "200", "403", "200", true},
		{"require", "000", "000", "200", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := startServer(t, m.serverArgs("-client-cert-mode", tc.mode)...)
			for _, proto := range []string{"--http1.1", "--http2"} {
				code, _, exit := m.curl(t, s, "localhost", "/", false, proto)
				assert.Equal(t, tc.withoutHome, code, "%s: GET / without a certificate", proto)
				assert.Equal(t, tc.withoutHandshok, exit == 0, "%s: curl exit %d", proto, exit)
				code, _, _ = m.curl(t, s, "localhost", "/whoami", false, proto)
				assert.Equal(t, tc.withoutWhoami, code, "%s: /whoami without a certificate", proto)
				code, body, _ := m.curl(t, s, "localhost", "/whoami", true, proto)
				assert.Equal(t, tc.withWhoami, code, "%s: /whoami with a certificate", proto)
				if code == "200" {
					assert.Contains(t, body, "subject: CN=alice,O=windhover tests")
					assert.Contains(t, body, "forwarded: false")
				}
			}
		})
	}
}

// TestMTLSPerHost gives api.localhost a required certificate and the rest
// none, chosen by SNI, and checks with curl and openssl s_client: a
// certificate is asked for only on api; a request for api on a connection
// whose handshake was www's gets 421.
func TestMTLSPerHost(t *testing.T) {
	m := newMTLS(t)
	s := startServer(t, m.serverArgs("-client-cert-mode", "none", "-client-cert-hosts", "api.localhost=require")...)

	code, _, exit := m.curl(t, s, "www.localhost", "/", false, "--http2")
	assert.Equal(t, "200", code)
	assert.Zero(t, exit)
	code, _, exit = m.curl(t, s, "api.localhost", "/", false, "--http2")
	assert.Equal(t, "000", code, "api's handshake requires a certificate")
	assert.NotZero(t, exit)
	code, body, _ := m.curl(t, s, "api.localhost", "/whoami", true, "--http2")
	assert.Equal(t, "200", code)
	assert.Contains(t, body, "CN=alice")

	// A Host under api's policy on a connection that skipped the
	// certificate: 421, so the client retries with the right SNI.
	for _, proto := range []string{"--http1.1", "--http2"} {
		code, _, _ = m.curl(t, s, "www.localhost", "/whoami", false, proto, "-H", "Host: api.localhost:"+s.port())
		assert.Equal(t, "421", code, proto)
	}

	// openssl shows what each handshake asks for.
	sClient := func(sni string) string {
		cmd := exec.Command(requirePeer(t, "openssl"), "s_client", "-connect", s.hostPort(), "-servername", sni,
			"-CAfile", m.caFile, "-tls1_3")
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	api := sClient("api.localhost")
	assert.Contains(t, api, "Acceptable client certificate CA names")
	assert.Contains(t, api, "windhover integration CA")
	www := sClient("www.localhost")
	assert.Contains(t, www, "No client certificate CA names sent")
	require.Contains(t, www, "Verify return code: 0 (ok)", "the server's certificate checks out")
}
