package certauth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// The encodings of a forwarded certificate.
func b64DER(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// nginxEscaped is nginx's $ssl_client_escaped_cert: the PEM, URL-escaped.
func nginxEscaped(c *x509.Certificate) string {
	return strings.ReplaceAll(url.QueryEscape(string(pemOf(c))), "+", "%20")
}

// onePEMLine is a PEM block with its line breaks turned into spaces.
func onePEMLine(c *x509.Certificate) string {
	return strings.TrimSpace(strings.ReplaceAll(string(pemOf(c)), "\n", " "))
}

func getWith(t *testing.T, s *testserver.Server, values ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+"/", nil)
	require.NoError(t, err)
	for _, v := range values {
		req.Header.Add(DefaultForwardedHeader, v)
	}
	return s.Do(t, req)
}

// TestForwarded sends forwarded certificates from a trusted peer and from an
// untrusted one, over HTTP/1.1 and h2c.
func TestForwarded(t *testing.T) {
	k := newPKI(t)
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	_, viaInter := k.inter.issue(t, certOpts{cn: "bob"})
	_, stranger := newCA(t, "Foreign").issue(t, certOpts{cn: "stranger"})
	for _, pr := range []proto{h1, h2c} {
		t.Run(string(pr), func(t *testing.T) {
			trusted := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"127.0.0.1"}})
			untrusted := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"10.0.0.0/8", "unix"}})
			nobody := newPolicy(t, Config{})
			ts := testserver.Start(t, trusted.Handler(whoami), pr)
			us := testserver.Start(t, untrusted.Handler(whoami), pr)
			ns := testserver.Start(t, nobody.Require(whoami), pr)

			for name, v := range map[string]string{"base64 DER": b64DER(alice), "nginx": nginxEscaped(alice), "PEM": onePEMLine(alice)} {
				code, body := getWith(t, ts, v)
				assert.Equal(t, 200, code, name)
				assert.Equal(t, "forwarded alice header:"+v[:8], body, name)

				code, body = getWith(t, us, v)
				assert.Equal(t, 200, code, name)
				assert.Equal(t, "anonymous", body, "%s: stripped and ignored", name)

				code, body = getWith(t, ns, v)
				assert.Equal(t, 403, code, name)
				assert.Equal(t, "Forbidden\n", body, name)
			}
			st := trusted.Stats()
			assert.Equal(t, uint64(3), st.Accepted)
			assert.Equal(t, uint64(3), st.ForwardedAccepted)
			assert.Equal(t, uint64(2), st.CacheHits, "the same certificate in three encodings")
			assert.Equal(t, uint64(3), untrusted.Stats().ForwardedIgnored)
			assert.Zero(t, untrusted.Stats().Accepted)
			assert.Equal(t, uint64(3), nobody.Stats().ForwardedIgnored)
			assert.Equal(t, uint64(3), nobody.Stats().Rejected[ReasonNoCertificate])

			for _, tc := range []struct {
				name   string
				values []string
				reason Reason
			}{
				{"not base64", []string{"%%%"}, ReasonMalformed},
				{"not a certificate", []string{base64.StdEncoding.EncodeToString([]byte("hello"))}, ReasonMalformed},
				{"two values", []string{b64DER(alice), b64DER(alice)}, ReasonMalformed},
				{"unknown issuer", []string{b64DER(stranger)}, ReasonUntrusted},
				{"intermediate not configured", []string{b64DER(viaInter)}, ReasonUntrusted},
			} {
				code, body := getWith(t, ts, tc.values...)
				assert.Equal(t, 403, code, tc.name)
				assert.Equal(t, "Forbidden\n", body, tc.name)
				assert.Equal(t, uint64(1), trusted.Stats().Rejected[tc.reason], tc.name)
				trusted.rejected[tc.reason].Store(0)

				code, body = getWith(t, us, tc.values...)
				assert.Equal(t, 200, code, tc.name)
				assert.Equal(t, "anonymous", body, tc.name)
			}
			code, body := getWith(t, ts)
			assert.Equal(t, 200, code)
			assert.Equal(t, "anonymous", body, "no header from a trusted proxy: no certificate")
		})
	}
}

// TestForwardedOverUnixSocket trusts a proxy on a Unix socket, and nobody
// over TCP.
func TestForwardedOverUnixSocket(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	p := newPolicy(t, Config{ClientCAs: k.root.pool(), TrustedProxies: []string{"unix"}})

	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: p.Require(whoami)}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-done
	})
	send := func(v string) (int, string) {
		req, _ := http.NewRequest("GET", "http://proxy/", nil)
		if v != "" {
			req.Header.Set(DefaultForwardedHeader, v)
		}
		res, err := tr.RoundTrip(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	code, body := send(nginxEscaped(alice))
	assert.Equal(t, 200, code)
	assert.Equal(t, "forwarded alice header:-----BEG", body)
	code, _ = send("")
	assert.Equal(t, 403, code)

	tcp := testserver.Start(t, p.Require(whoami), h1)
	code, _ = getWith(t, tcp, nginxEscaped(alice))
	assert.Equal(t, 403, code, "a TCP peer is not the Unix-socket proxy")
	assert.Equal(t, uint64(1), p.Stats().ForwardedIgnored)
}

// TestForwardedFromTLSProxy: a trusted proxy connects with a certificate of
// its own, which must not become the client's identity.
func TestForwardedFromTLSProxy(t *testing.T) {
	k := newPKI(t)
	proxyCert, _ := k.root.issue(t, certOpts{cn: "proxy"})
	_, alice := k.root.issue(t, certOpts{cn: "alice"})
	p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), TrustedProxies: []string{"127.0.0.0/8"}})
	s := serveTLS(t, k, p, whoami, h2tls, &proxyCert, "")
	code, body := getWith(t, s)
	assert.Equal(t, 200, code)
	assert.Equal(t, "anonymous", body)
	code, body = getWith(t, s, b64DER(alice))
	assert.Equal(t, 200, code)
	assert.Equal(t, "forwarded alice header:"+b64DER(alice)[:8], body)
}

func TestDecodeForwarded(t *testing.T) {
	k := newPKI(t)
	_, c := k.root.issue(t, certOpts{cn: "alice"})
	b := new(forwardBuf)
	raw := base64.RawStdEncoding.EncodeToString(c.Raw)
	for name, v := range map[string]string{
		"base64":              b64DER(c),
		"base64 unpadded":     raw,
		"nginx":               nginxEscaped(c),
		"PEM on one line":     onePEMLine(c),
		"escaped base64":      url.QueryEscape(b64DER(c)),
		"PEM, CRLF escaped":   strings.ReplaceAll(nginxEscaped(c), "%0A", "%0D%0A"),
		"PEM, trailing space": onePEMLine(c) + "   ",
	} {
		der, err := decodeForwarded(b, v)
		require.NoError(t, err, name)
		assert.Equal(t, c.Raw, der, name)
	}
	pemText := onePEMLine(c)
	for name, v := range map[string]string{
		"empty":            "",
		"bad escape":       "%zz",
		"cut escape":       b64DER(c) + "%4",
		"not base64":       "!!!!",
		"END missing":      strings.TrimSuffix(pemText, "-----END CERTIFICATE-----"),
		"two PEM blocks":   pemText + " " + pemText,
		"data after END":   pemText + "x",
		"another PEM type": strings.ReplaceAll(pemText, "CERTIFICATE", "PRIVATE KEY"),
		"too long":         strings.Repeat("A", maxForwardedLen+1),
	} {
		_, err := decodeForwarded(b, v)
		assert.Error(t, err, name)
	}
}

func FuzzDecodeForwarded(f *testing.F) {
	k := newPKI(f)
	_, c := k.root.issue(f, certOpts{cn: "alice"})
	for _, seed := range []string{
		b64DER(c), nginxEscaped(c), onePEMLine(c), base64.RawStdEncoding.EncodeToString(c.Raw),
		"", "%", "%0", "%0A", "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE----------END CERTIFICATE-----",
		"-----BEGIN CERTIFICATE----- AAAA -----END CERTIFICATE-----", "AA==", "A", "AAA", "====",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		b := new(forwardBuf)
		der, err := decodeForwarded(b, v)
		if err != nil {
			if der != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if len(der) == 0 || len(der) > len(v) {
			t.Fatalf("decoded %d bytes from %d", len(der), len(v))
		}
		// Whatever decodes is base64 of its result in some form: the
		// canonical form decodes to the same bytes.
		again, err := decodeForwarded(new(forwardBuf), base64.StdEncoding.EncodeToString(der))
		if err != nil || string(again) != string(der) {
			t.Fatalf("canonical form of %q does not decode to the same: %v", v, err)
		}
		// The buffers are reused: a second decoding into b is the same.
		der2, err := decodeForwarded(b, v)
		if err != nil || string(der2) != string(again) {
			t.Fatalf("second decoding differs: %v", err)
		}
	})
}
