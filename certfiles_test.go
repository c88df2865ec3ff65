package windhover_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
)

// secretMount writes a certificate as Kubernetes mounts a secret: the files
// are symlinks through "..data", a symlink to a timestamped directory, which
// an update replaces atomically.
type secretMount struct {
	t   *testing.T
	dir string
	gen int
}

func (m *secretMount) write(p testcert.Pair) {
	m.gen++
	ts := filepath.Join(m.dir, fmt.Sprintf("..gen%d", m.gen))
	require.NoError(m.t, os.Mkdir(ts, 0o700))
	cert, key := p.Write(m.t, ts, "tls")
	require.NoError(m.t, os.Rename(cert, filepath.Join(ts, "tls.crt")))
	require.NoError(m.t, os.Rename(key, filepath.Join(ts, "tls.key")))
	tmp := filepath.Join(m.dir, "..data_tmp")
	require.NoError(m.t, os.Symlink(filepath.Base(ts), tmp))
	require.NoError(m.t, os.Rename(tmp, filepath.Join(m.dir, "..data")))
	for _, f := range []string{"tls.crt", "tls.key"} {
		link := filepath.Join(m.dir, f)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			require.NoError(m.t, os.Symlink(filepath.Join("..data", f), link))
		}
	}
}

// runFile hardens a server that answers with the request's protocol on the
// appsettings.json settings, runs it on their endpoints, and returns it, the
// addresses it listens on, and a function that stops it and waits for Run
// to return nil, which the end of the test calls if the test did not.
func runFile(t *testing.T, settings string) (*windhover.Server, []net.Addr, func()) {
	t.Helper()
	cfg, err := windhover.ParseConfig([]byte(settings))
	require.NoError(t, err)
	cfg.Shutdown = gracefulConfig(0)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) })}
	s, err := windhover.Harden(srv, cfg)
	require.NoError(t, err)
	bound, err := s.Listen()
	require.NoError(t, err)
	addrs := make([]net.Addr, len(bound))
	for i, b := range bound {
		addrs[i] = b.Addr
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-ran:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	t.Cleanup(stop)
	return s, addrs, stop
}

// TestCertificateReload: a certificate swapped in a Kubernetes secret mount
// is served to the next handshakes, without a restart, while a connection
// made before keeps working; a swap that does not load keeps the last good
// certificate.
func TestCertificateReload(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	m := &secretMount{t: t, dir: t.TempDir()}
	first := ca.Server(t, "first.test")
	m.write(first)
	s, addrs, _ := runFile(t, `{"Kestrel":{"Endpoints":{"Https":{"Url":"https://127.0.0.1:0",
		"Certificate":{"Path":"`+filepath.Join(m.dir, "tls.crt")+`","KeyPath":"`+filepath.Join(m.dir, "tls.key")+`"}}}}}`)
	require.Len(t, addrs, 1)

	// served returns the serial of the certificate a new handshake gets.
	served := func() string {
		c, err := tls.Dial("tcp", addrs[0].String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	assert.Equal(t, first.Cert.SerialNumber.String(), served())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() string {
		res, err := client.Get("https://" + addrs[0].String() + "/")
		require.NoError(t, err)
		defer res.Body.Close()
		return res.Proto
	}
	assert.Equal(t, "HTTP/2.0", get())

	second := ca.Server(t, "second.test")
	m.write(second)
	testserver.Eventually(t, func() bool { return served() == second.Cert.SerialNumber.String() }, "the new certificate served")
	assert.Equal(t, uint64(1), s.Stats().Certificates.Reloads)
	assert.Equal(t, "HTTP/2.0", get(), "the connection made before")

	// A swap whose key does not match its certificate is not served.
	third, other := ca.Server(t, "third.test"), ca.Server(t, "other.test")
	third.Key = other.Key
	m.write(third)
	// Handshakes look at the files, at most once a second.
	testserver.Eventually(t, func() bool { served(); return s.Stats().Certificates.ReloadErrors > 0 }, "the bad swap seen")
	assert.Equal(t, second.Cert.SerialNumber.String(), served())
	assert.Error(t, s.Stats().Certificates.LastError)
}

// TestRunEndpoints: Run listens on Kestrel's endpoints, TCP and a Unix
// socket, with the protocols they ask for.
func TestRunEndpoints(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	_, addrs, stop := runFile(t, `{"Kestrel":{"Endpoints":{
		"A":{"Url":"http://localhost:0"},
		"B":{"Url":"http://unix:`+sock+`"}}}}`)
	require.Len(t, addrs, 2)

	res, err := http.Get("http://" + addrs[0].String() + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	res, err = unix.Get("http://localhost/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)

	stop()
	_, err = os.Stat(sock)
	assert.True(t, os.IsNotExist(err), "the socket file removed: %v", err)
}

// TestCertificateWithClientCertificates: Config.Certificate gives a server
// without a TLSConfig the TLS that client certificates need, as an https
// endpoint with a ClientCertificateMode in appsettings.json does; without
// it, asking for client certificates is refused.
func TestCertificateWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	cert, key := ca.Server(t).Write(t, dir, "server")
	cfg, err := windhover.ParseConfig([]byte(`{"Kestrel":{"Endpoints":{"Https":{"Url":"https://127.0.0.1:0",
		"Certificate":{"Path":"` + cert + `","KeyPath":"` + key + `"}, "ClientCertificateMode":"RequireCertificate"}}},
		"Windhover":{"ClientCertificates":{"ClientCAs":["` + ca.WriteCA(t, dir) + `"]}}}`))
	require.NoError(t, err)
	srv := &http.Server{}
	_, err = windhover.Harden(srv, cfg)
	require.NoError(t, err)
	require.NotNil(t, srv.TLSConfig)
	assert.NotNil(t, srv.TLSConfig.GetCertificate)

	cfg.Certificate = windhover.CertificateFiles{}
	cfg.Endpoints = nil
	_, err = windhover.Harden(&http.Server{}, cfg)
	assert.ErrorContains(t, err, "no TLSConfig")
}

// TestRunPlaintextAndTLS: a server Run serves on an http and an https
// endpoint at once speaks HTTP/2 over TLS, whichever listener net/http sets
// the server up from first.
func TestRunPlaintextAndTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	cert, key := ca.Server(t).Write(t, dir, "server")
	_, addrs, _ := runFile(t, `{"Kestrel":{"Endpoints":{"A":{"Url":"http://127.0.0.1:0"},
		"B":{"Url":"https://127.0.0.1:0","Certificate":{"Path":"`+cert+`","KeyPath":"`+key+`"}}}}}`)
	require.Len(t, addrs, 2)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	for i, want := range []string{"HTTP/1.1", "HTTP/2.0"} {
		res, err := (&http.Client{Transport: tr}).Get([]string{"http://", "https://"}[i] + addrs[i].String() + "/")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, want, string(b))
	}
}

// TestEndpointCertificates: two https endpoints with certificates of their
// own each serve theirs, and a server name listed under Sni gets its own
// certificate on both.
func TestEndpointCertificates(t *testing.T) {
	dir := t.TempDir()
	caA, caB, caSni := testcert.NewCA(t, "CA A"), testcert.NewCA(t, "CA B"), testcert.NewCA(t, "CA Sni")
	certA, keyA := caA.Server(t).Write(t, dir, "a")
	certB, keyB := caB.Server(t).Write(t, dir, "b")
	certS, keyS := caSni.Server(t, "api.example").Write(t, dir, "sni")
	_, addrs, _ := runFile(t, `{"Kestrel":{"Endpoints":{
		"A":{"Url":"https://127.0.0.1:0","Certificate":{"Path":"`+certA+`","KeyPath":"`+keyA+`"},
			"Sni":{"api.example":{"Certificate":{"Path":"`+certS+`","KeyPath":"`+keyS+`"}}}},
		"B":{"Url":"https://127.0.0.1:0","Certificate":{"Path":"`+certB+`","KeyPath":"`+keyB+`"}}}}}`)
	require.Len(t, addrs, 2)
	issuer := func(addr net.Addr, name string) string {
		c, err := tls.Dial("tcp", addr.String(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Issuer.CommonName
	}
	assert.Equal(t, "CA A", issuer(addrs[0], "localhost"))
	assert.Equal(t, "CA B", issuer(addrs[1], "localhost"))
	assert.Equal(t, "CA Sni", issuer(addrs[0], "api.example"))
	assert.Equal(t, "CA Sni", issuer(addrs[1], "api.example"), "a server name's certificate is the server's")

	// A request over each, verified against its endpoint's CA alone.
	for i, ca := range []*testcert.CA{caA, caB} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
		res, err := (&http.Client{Transport: tr}).Get("https://" + addrs[i].String() + "/")
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
		tr.CloseIdleConnections()
	}
}

// TestEndpointCertificateRefused: an endpoint's certificate on an http
// endpoint, or an https endpoint with no certificate anywhere, is refused
// by Harden, naming the endpoint.
func TestEndpointCertificateRefused(t *testing.T) {
	ep, err := windhover.ParseEndpoint("http://127.0.0.1:0")
	require.NoError(t, err)
	ep.Certificate = windhover.CertificateFiles{CertFile: "a.pem", KeyFile: "a.key"}
	_, err = windhover.Harden(&http.Server{}, windhover.Config{Endpoints: []windhover.Endpoint{ep}})
	assert.ErrorContains(t, err, "endpoint Config.Endpoints[0] (http://127.0.0.1:0): a certificate is for https endpoints")

	ep, err = windhover.ParseEndpoint("https://127.0.0.1:0")
	require.NoError(t, err)
	ep.Name = "Secure"
	_, err = windhover.Harden(&http.Server{}, windhover.Config{Endpoints: []windhover.Endpoint{ep}})
	assert.ErrorContains(t, err, "endpoint Secure (https://127.0.0.1:0) is https but has no certificate")
	_, err = windhover.Harden(&http.Server{TLSConfig: &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }}},
		windhover.Config{Endpoints: []windhover.Endpoint{ep}})
	assert.NoError(t, err, "the server's own certificate serves it")
}
