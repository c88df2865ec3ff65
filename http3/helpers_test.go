package http3_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/internal/testcert"
)

// stack is a hardened server serving on TCP (TLS) and HTTP/3, and what a
// test needs to reach it.
type stack struct {
	ws     *windhover.Server
	h3     *http3.Server
	ca     *testcert.CA
	tcp    string // host:port
	udp    string // host:port
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error // Run's
}

// stop stops the server as a signal would, and returns Run's error.
func (st *stack) stop(t testing.TB) error {
	t.Helper()
	st.once.Do(func() {
		st.cancel()
		select {
		case st.err = <-st.done:
		case <-time.After(40 * time.Second):
			t.Error("the server did not stop")
		}
	})
	return st.err
}

// serve hardens a server whose mux is set by routes, under cfg, and runs it
// on 127.0.0.1 over TCP and UDP until the test ends.
func serve(t testing.TB, cfg windhover.Config, h3cfg http3.Config, routes func(*http.ServeMux, *windhover.Server)) *stack {
	t.Helper()
	return serveCA(t, testcert.NewCA(t, "windhover http3 test CA"), cfg, h3cfg, routes)
}

// serveCA is serve with the CA that signs the server's certificate.
func serveCA(t testing.TB, ca *testcert.CA, cfg windhover.Config, h3cfg http3.Config, routes func(*http.ServeMux, *windhover.Server)) *stack {
	t.Helper()
	mux := http.NewServeMux()
	srv := &http.Server{
		Handler:   mux,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "api.example.com", "www.example.com").TLS()}},
	}
	cfg.Shutdown.DisableSignals = true
	ws, err := windhover.Harden(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello over "+r.Proto)
	})
	if routes != nil {
		routes(mux, ws)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3, err := http3.New(ws, pc, h3cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &stack{ws: ws, h3: h3, ca: ca, tcp: ln.Addr().String(), udp: pc.LocalAddr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { st.done <- ws.Run(ctx, ln) }()
	t.Cleanup(func() { _ = st.stop(t) })
	return st
}

// client returns an HTTP/3 client of st, with the certificate given, if any.
func (st *stack) client(t testing.TB, certs ...tls.Certificate) *http.Client {
	t.Helper()
	tr := &qhttp3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: st.ca.Pool()},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 10 * time.Second},
	}
	if len(certs) > 0 {
		// Sent whatever CAs the server names, as a client that would
		// try a certificate the server does not know.
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &certs[0], nil
		}
	}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// url is an https URL of path at host (the server's address if empty),
// over UDP.
func (st *stack) url(host, path string) string {
	_, port, _ := net.SplitHostPort(st.udp)
	if host == "" {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port) + path
}

// get sends req and returns its status and body; a transport error fails
// the test.
func do(t testing.TB, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Logf("reading the body: %v", err)
	}
	if res.ProtoMajor != 3 {
		t.Fatalf("%s %s: answered over %s", req.Method, req.URL, res.Proto)
	}
	return res.StatusCode, string(b), res.Header
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	code, body, _ := do(t, c, newRequest(t, http.MethodGet, url, nil))
	return code, body
}

// resolveTo makes a client dial addr whatever host a URL names, so that a
// test can send a server name (SNI) and Host of its choice.
func resolveTo(c *http.Client, addr string) {
	tr := c.Transport.(*qhttp3.Transport)
	tr.Dial = func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
		return quic.DialAddrEarly(ctx, addr, tlsCfg, cfg)
	}
}
