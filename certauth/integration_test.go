//go:build integration

package certauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// pemFiles writes cert and its key as PEM files and returns their paths.
func pemFiles(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	certFile = writeFile(t, "client.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	keyFile = writeFile(t, "client.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	return certFile, keyFile
}

// TestCurlPerHost sends curl, with and without a client certificate, to
// hosts chosen by SNI (--resolve), over HTTP/1.1 and HTTP/2.
func TestCurlPerHost(t *testing.T) {
	k := newPKI(t)
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	old, _ := k.root.issue(t, certOpts{cn: "old", notBefore: timeAgo(48), notAfter: timeAgo(24)})
	aliceCrt, aliceKey := pemFiles(t, alice)
	oldCrt, oldKey := pemFiles(t, old)
	rootFile := writeFile(t, "root.pem", pemOf(k.root.cert))
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			p := newPolicy(t, Config{ClientCAs: k.root.pool(), Hosts: map[string]Mode{
				"api.example.com": RequireCertificate,
				"www.example.com": NoCertificate,
			}})
			s := serveTLS(t, k, p, whoami, pr, nil, "")
			port := s.Addr()[strings.LastIndexByte(s.Addr(), ':')+1:]
			version := map[proto]string{h1tls: "1.1", h2tls: "2"}[pr]
			curl := func(host string, args ...string) testserver.CurlResult {
				base := []string{testserver.CurlFlag(pr), "--cacert", rootFile, "--resolve", host + ":" + port + ":127.0.0.1"}
				return testserver.Curl(t, s, append(append(base, args...), "https://"+host+":"+port+"/")...)
			}
			res := curl("api.example.com", "--cert", aliceCrt, "--key", aliceKey)
			require.Zero(t, res.Exit, res.Trace)
			assert.Equal(t, "200 "+version, res.Out)

			res = curl("api.example.com")
			assert.NotZero(t, res.Exit, "no certificate: the handshake fails")

			res = curl("api.example.com", "--cert", oldCrt, "--key", oldKey)
			assert.NotZero(t, res.Exit, "expired: the handshake fails")
			assert.Equal(t, uint64(1), p.Stats().Rejected[ReasonExpired])

			res = curl("www.example.com")
			require.Zero(t, res.Exit, res.Trace)
			assert.Equal(t, "200 "+version, res.Out)

			res = curl("www.example.com", "-H", "Host: api.example.com")
			require.Zero(t, res.Exit, res.Trace)
			assert.Equal(t, "421 "+version, res.Out)
		})
	}
}

// TestOpenSSLHandshake uses openssl s_client to watch the handshake: the
// acceptable CA names the server sends, and the alerts.
func TestOpenSSLHandshake(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	require.NoError(t, err, "openssl is required by the integration suite")
	k := newPKI(t)
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	aliceCrt, aliceKey := pemFiles(t, alice)
	p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool()})
	s := serveTLS(t, k, p, whoami, h1tls, nil, "")

	run := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"s_client", "-connect", s.Addr(), "-servername", "api.example.com", "-CAfile", writeFile(t, "root.pem", pemOf(k.root.cert)), "-ign_eof"}, args...)...)
		cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
		cmd.WaitDelay = 5 * time.Second
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	out := run("-cert", aliceCrt, "-key", aliceKey)
	assert.Contains(t, out, "Acceptable client certificate CA names")
	assert.Contains(t, out, "O = windhover test, CN = Test Root")
	assert.Contains(t, out, "\r\n\r\nalice")

	out = run()
	assert.Contains(t, out, "alert certificate required")
}
