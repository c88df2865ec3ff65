package certauth

import (
	"bufio"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// optionsStar sends "OPTIONS *" to s over a new connection, with the
// client's TLS configuration, and returns the status and body: raw bytes
// over HTTP/1.1, net/http's client over HTTP/2.
func optionsStar(t *testing.T, s *testserver.Server) (int, string, error) {
	t.Helper()
	if s.Proto == h2tls {
		s.Transport.CloseIdleConnections()
		req, err := http.NewRequest(http.MethodOptions, s.URL, nil)
		require.NoError(t, err)
		req.URL.Opaque = "*"
		res, err := s.Client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res.StatusCode, string(body), err
	}
	c, err := tls.Dial("tcp", s.Addr(), s.Transport.TLSClientConfig)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	if _, err := io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return 0, "", err
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// TestOptionsStar sends "OPTIONS *" to a route that requires a certificate,
// on a server the policy was applied to: net/http no longer answers it
// before the policy (200 without a certificate, issue 11, hole 2); the
// policy refuses it without a certificate and answers it as net/http would
// with one; the application never meets it.
func TestOptionsStar(t *testing.T) {
	testserver.CheckNoLeaks(t)
	k := newPKI(t)
	alice, _ := k.root.issue(t, certOpts{cn: "alice"})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the application met %s %s", r.Method, r.RequestURI)
	})
	for _, pr := range tlsProtos {
		t.Run(string(pr), func(t *testing.T) {
			p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
			base := &tls.Config{Certificates: []tls.Certificate{k.server}}
			s, a := serveApplied(t, k, p, base, p.Require(app), pr, nil, "")
			require.NoError(t, a.err)
			code, body, err := optionsStar(t, s)
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, code)
			assert.Equal(t, "Forbidden\n", body)

			sendAlways(s.Transport.TLSClientConfig, &alice)
			code, body, err = optionsStar(t, s)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code)
			assert.Empty(t, body)
			st := p.Stats()
			assert.Equal(t, uint64(1), st.Rejected[ReasonNoCertificate])
			assert.Equal(t, uint64(1), st.Accepted)
		})
	}
}

// TestOptionsStarWarning shows a server the policy was not applied to:
// net/http answers "OPTIONS *" itself, and the policy says so once.
func TestOptionsStarWarning(t *testing.T) {
	var logs testserver.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	k := newPKI(t)
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
	s := serveTLS(t, k, p, whoami, h1tls, nil, "")
	code, _, err := optionsStar(t, s)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "net/http's own answer")
	assert.Empty(t, logs.String())
	for range 2 {
		_, body, err := get(s, "/", "")
		require.NoError(t, err)
		assert.Equal(t, "anonymous", body)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), `windhover/certauth: the server answers \"OPTIONS *\"`), logs.String())
}
