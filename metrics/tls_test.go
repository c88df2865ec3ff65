package metrics

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
)

const (
	handshakeDuration = "windhover_tls_handshake_duration_seconds"
	activeHandshakes  = "windhover_active_tls_handshakes"
)

// handshakeSeries returns the lines of one handshake duration series with
// one bucket.
func handshakeSeries(errorType, version string, count int) string {
	labels := labelString("error_type", errorType, "network_transport", "tcp", "network_type", "ipv4", "tls_protocol_version", version)
	return histogram(handshakeDuration, labels, "60", count, 0)
}

// tlsServer starts routes behind m over TLS (HTTP/2 and HTTP/1.1 by ALPN),
// with its configuration from m.TLSConfig(base); base gets the test
// certificate unless it has one.
func tlsServer(t *testing.T, m *Metrics, base *tls.Config, setup ...testserver.Setup) (*testserver.Server, *x509.CertPool) {
	t.Helper()
	if len(base.Certificates) == 0 && base.GetConfigForClient == nil {
		base.Certificates = []tls.Certificate{testCert(t)}
	}
	if base.NextProtos == nil {
		base.NextProtos = []string{"h2", "http/1.1"}
	}
	setup = append(setup, func(ts *httptest.Server) { ts.TLS = m.TLSConfig(base) })
	s := serve(t, m, routes(), testserver.H2, setup...)
	return s, testserver.RootCAs(s.Server)
}

// tlsClient returns a client for s that trusts roots and speaks HTTP/1.1 up
// to TLS 1.2.
func tlsClient(roots *x509.CertPool) *http.Transport {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}, Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(true)
	return tr
}

func TestTLSHandshakes(t *testing.T) {
	testserver.CheckNoLeaks(t)
	m, reg := newMetrics(t, testConfig)
	s, roots := tlsServer(t, m, &tls.Config{})

	// TLS 1.3 and HTTP/2.
	status, _ := s.Get(t, "/items/1", nil)
	require.Equal(t, 200, status)
	s.Transport.CloseIdleConnections()

	// TLS 1.2 and HTTP/1.1.
	tr := tlsClient(roots)
	res, err := (&http.Client{Transport: tr}).Get(s.URL + "/items/2")
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.Equal(t, "HTTP/1.1", res.Proto)
	tr.CloseIdleConnections()

	// Plaintext HTTP to the TLS port, binary garbage, and a connection
	// closed before saying anything: no ClientHello.
	plain := testserver.Dial(t, s.Addr())
	plain.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = plain.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	garbage := testserver.Dial(t, s.Addr())
	garbage.Send(t, "\x00\x01\x02\x03\x04\x05\x06\x07garbage")
	require.True(t, garbage.ClosedByPeer(t))
	testserver.Dial(t, s.Addr()).Close()

	// Clients that refuse the server's certificate, over TLS 1.3 (after the
	// server verified the handshake) and TLS 1.2 (before).
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		_, err = tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: v, MaxVersion: v})
		var unknown x509.UnknownAuthorityError
		require.True(t, errors.As(err, &unknown), "%v", err)
	}

	eventually(t, reg, 3, handshakeDuration, "error_type", "no_client_hello")
	eventually(t, reg, 0, activeConns)
	expect(t, reg, ""+
		handshakeSeries("", "1.2", 1)+
		handshakeSeries("", "1.3", 1)+
		handshakeSeries("handshake_failed", "", 1)+
		handshakeSeries("handshake_failed", "1.3", 1)+
		handshakeSeries("no_client_hello", "", 3)+
		`windhover_active_tls_handshakes{network_transport="tcp",network_type="ipv4"} 0`+"\n"+
		connSeries("tcp", "", "", "new", "tls_handshake_failed", 4)+
		connSeries("tcp", "", "1.3", "new", "tls_handshake_failed", 1)+
		connSeries("tcp", "1.1", "1.2", "idle", "", 1)+
		connSeries("tcp", "2", "1.3", "idle", "", 1),
		handshakeDuration, activeHandshakes, connDuration)
	lint(t, m)
}

// TestActiveHandshakes holds a handshake open: a client that connects and
// sends nothing.
func TestActiveHandshakes(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	s, _ := tlsServer(t, m, &tls.Config{})
	c := testserver.Dial(t, s.Addr())
	eventually(t, reg, 1, activeHandshakes)
	c.Close()
	eventually(t, reg, 0, activeHandshakes)
	assert.Equal(t, 1.0, value(t, reg, handshakeDuration, "error_type", "no_client_hello"))
}

// TestHandshakeTimeout lets net/http's TLS handshake timeout (the shortest
// of the server's read and write timeouts) close a client that never sends
// its ClientHello: a slowloris on TLS.
func TestHandshakeTimeout(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	s, _ := tlsServer(t, m, &tls.Config{}, func(ts *httptest.Server) { ts.Config.ReadHeaderTimeout = 200 * time.Millisecond })
	c := testserver.Dial(t, s.Addr())
	eventually(t, reg, 1, activeHandshakes)
	require.True(t, c.ClosedByPeer(t))
	eventually(t, reg, 0, activeHandshakes)
	expect(t, reg, handshakeSeries("no_client_hello", "", 1), handshakeDuration)
	assert.Equal(t, 1.0, value(t, reg, connDuration, "state", "new", "error_type", "tls_handshake_failed"))
}

// TestGetConfigForClientChained gives TLSConfig a configuration that picks
// another one per server name, with its own VerifyConnection: both keep
// working, and the handshake is measured.
func TestGetConfigForClientChained(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	cert := testCert(t)
	var chosen, verified atomic.Int32
	base := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		chosen.Add(1)
		if hello.ServerName == "refused.example" {
			return nil, errors.New("refused")
		}
		return &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
			VerifyConnection: func(tls.ConnectionState) error {
				verified.Add(1)
				return nil
			},
		}, nil
	}}
	s, _ := tlsServer(t, m, base)
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	s.Transport.TLSClientConfig.RootCAs = roots
	status, _ := s.Get(t, "/items/1", nil)
	require.Equal(t, 200, status)
	_, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: roots, ServerName: "refused.example"})
	require.Error(t, err)
	s.Transport.CloseIdleConnections()
	eventually(t, reg, 0, activeConns)
	assert.Equal(t, int32(2), chosen.Load())
	assert.Equal(t, int32(1), verified.Load())
	expect(t, reg, handshakeSeries("", "1.3", 1)+handshakeSeries("handshake_failed", "", 1), handshakeDuration)
}

// TestVerifyConnectionRefuses checks that the chosen configuration's
// VerifyConnection still refuses, and the refusal is a failed handshake.
func TestVerifyConnectionRefuses(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	s, roots := tlsServer(t, m, &tls.Config{VerifyConnection: func(cs tls.ConnectionState) error {
		if cs.ServerName == "example.com" {
			return errors.New("refused")
		}
		return nil
	}})
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		// Over TLS 1.3 the client may finish first and learn of the
		// refusal on its first read.
		c, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: roots, ServerName: "example.com", MinVersion: v, MaxVersion: v})
		if err == nil {
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		require.ErrorContains(t, err, "bad certificate")
	}
	eventually(t, reg, 0, activeConns)
	expect(t, reg, handshakeSeries("handshake_failed", "", 2), handshakeDuration)
}

// TestServeTLSCertFiles serves with certificate files, which ServeTLS loads
// into a copy of the configuration out of TLSConfig's reach: the handshakes
// still succeed, and leave the active gauge, unmeasured.
func TestServeTLSCertFiles(t *testing.T) {
	testserver.CheckNoLeaks(t)
	m, reg := newMetrics(t, testConfig)
	cert := testcert.NewCA(t, "windhover metrics test CA").Server(t)
	certFile, keyFile := cert.Write(t, t.TempDir(), "server")
	srv := &http.Server{Handler: m.Handler(routes()), TLSConfig: m.TLSConfig(nil)}
	m.Apply(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.ServeTLS(ln, certFile, keyFile)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/items/1")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "HTTP/2.0", res.Proto, "ServeTLS's HTTP/2 set-up is intact")
	assert.Equal(t, 0.0, value(t, reg, activeHandshakes))
	assert.Equal(t, -1.0, value(t, reg, handshakeDuration))
}

// TestServeTLSConfigCerts serves with ServeTLS and the certificates in the
// configuration: measured, and HTTP/2 is negotiated, as net/http adds "h2"
// to the server's own TLSConfig, which TLSConfig's copies come from.
func TestServeTLSConfigCerts(t *testing.T) {
	testserver.CheckNoLeaks(t)
	m, reg := newMetrics(t, testConfig)
	cert := testCert(t)
	srv := &http.Server{Handler: m.Handler(routes()), TLSConfig: m.TLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
	m.Apply(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
		res, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/items/1")
		require.NoError(t, err)
		res.Body.Close()
		tr.CloseIdleConnections()
		assert.Equal(t, h2, res.ProtoMajor == 2, res.Proto)
	}
	eventually(t, reg, 0, activeConns)
	expect(t, reg, handshakeSeries("", "1.3", 2)+
		connSeries("tcp", "1.1", "1.3", "idle", "", 1)+
		connSeries("tcp", "2", "1.3", "idle", "", 1), handshakeDuration, connDuration)
}
