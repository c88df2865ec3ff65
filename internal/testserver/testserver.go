// Package testserver starts real servers on 127.0.0.1:0 for windhover's
// tests, speaking HTTP/1.1, HTTP/2 over TLS or HTTP/2 with prior knowledge,
// and offers raw client connections for sending what a normal client would
// not. It is used by tests only.
package testserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Proto is a protocol a test server speaks.
type Proto string

// The protocols.
const (
	H1    Proto = "h1"    // HTTP/1.1 over TCP
	H1TLS Proto = "h1tls" // HTTP/1.1 over TLS
	H2    Proto = "h2"    // HTTP/2 over TLS
	H2C   Proto = "h2c"   // HTTP/2 with prior knowledge over TCP
)

// All is every protocol whose behaviour can differ: HTTP/1.1, HTTP/2 over
// TLS and h2c.
var All = []Proto{H1, H2, H2C}

// IsHTTP2 reports whether p is one of the HTTP/2 protocols.
func (p Proto) IsHTTP2() bool { return p == H2 || p == H2C }

// IsTLS reports whether p runs over TLS.
func (p Proto) IsTLS() bool { return p == H2 || p == H1TLS }

// Server is a started test server and a client for it.
type Server struct {
	*httptest.Server
	Proto  Proto
	Client *http.Client
	// Transport is the Client's transport; tests may adjust it.
	Transport *http.Transport
}

// Setup, if given to Start, runs on the unstarted server: to set server
// fields, or wrap its Listener.
type Setup func(*httptest.Server)

// Start serves h speaking p and returns the server, which is closed when the
// test ends. The client does not ask for compression, so that the requests
// carry only the fields a test sets (and User-Agent).
func Start(t testing.TB, h http.Handler, p Proto, setup ...Setup) *Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, f := range setup {
		f(ts)
	}
	tr := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	switch p {
	case H1:
		ts.Start()
		tr.Protocols.SetHTTP1(true)
	case H2C:
		if ts.Config.Protocols == nil {
			ts.Config.Protocols = new(http.Protocols)
			ts.Config.Protocols.SetHTTP1(true)
		}
		ts.Config.Protocols.SetUnencryptedHTTP2(true)
		ts.Start()
		tr.Protocols.SetUnencryptedHTTP2(true)
	case H2, H1TLS:
		ts.EnableHTTP2 = p == H2
		ts.StartTLS()
		tr.TLSClientConfig = &tls.Config{RootCAs: RootCAs(ts)}
		tr.Protocols.SetHTTP1(p == H1TLS)
		tr.Protocols.SetHTTP2(p == H2)
	default:
		t.Fatalf("testserver: unknown protocol %q", p)
	}
	s := &Server{Server: ts, Proto: p, Client: &http.Client{Transport: tr}, Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
	})
	return s
}

// RootCAs returns a pool that trusts ts's certificate.
func RootCAs(ts *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return pool
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.Listener.Addr().String() }

// Do sends req and returns the status and the whole body. It fails the test
// if the request fails or was not carried by the server's protocol.
func (s *Server) Do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the response to %s %s: %v", req.Method, req.URL, err)
	}
	if (res.ProtoMajor == 2) != s.Proto.IsHTTP2() {
		t.Fatalf("%s server answered over %s", s.Proto, res.Proto)
	}
	return res.StatusCode, string(body)
}

// Get sends a GET for target (a path) with the given header fields.
func (s *Server) Get(t testing.TB, target string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return s.Do(t, req)
}

// Conn is a raw client connection.
type Conn struct {
	net.Conn
	R *bufio.Reader
}

// Dial opens a plaintext connection to addr, closed when the test ends, with
// a ten-second deadline.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Conn{Conn: c, R: bufio.NewReader(c)}
}

// Send writes s.
func (c *Conn) Send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// Response reads one response and its whole body.
func (c *Conn) Response(t testing.TB) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(c.R, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res, string(body)
}

// ClosedByPeer reports whether the server closed the connection: a read ends
// in EOF or a reset within five seconds, rather than timing out. Bytes still
// buffered are discarded.
func (c *Conn) ClosedByPeer(t testing.TB) bool {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return true
	}
	_, err := io.Copy(io.Discard, c.R)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// Eventually retries cond for up to five seconds, then fails the test with
// msg formatted with args. An argument that was true before the first try
// only misleads: pass a [Later] for what the last try saw.
func Eventually(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ChanListener is a net.Listener that accepts the connections sent on
// Conns, until it is closed: a server fed connections a test or a
// benchmark makes, or a handler hands on.
type ChanListener struct {
	Conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewChanListener returns a ChanListener that accepts conns first; Conns
// holds as many, and at least one.
func NewChanListener(conns ...net.Conn) *ChanListener {
	l := &ChanListener{Conns: make(chan net.Conn, max(len(conns), 1)), closed: make(chan struct{})}
	for _, c := range conns {
		l.Conns <- c
	}
	return l
}

// Accept returns the next connection sent on Conns, or net.ErrClosed once
// l is closed.
func (l *ChanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.Conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed; it may be called more than once.
func (l *ChanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns 127.0.0.1:0.
func (l *ChanListener) Addr() net.Addr { return chanListenerAddr }

var chanListenerAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

// Later is a value read when it is formatted, with the verb it is
// formatted with: a failure message's reading of the state at the failure.
type Later func() any

// Format formats what l returns now.
func (l Later) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), l()) }

// CheckNoLeaks records goroutines and file descriptors now and, when the test
// ends, waits for both to come back to that level. Call it before starting
// servers, so that its check runs after they have been closed.
func CheckNoLeaks(t testing.TB) {
	t.Helper()
	goroutines := runtime.NumGoroutine()
	fds := openFDs()
	t.Cleanup(func() {
		Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines },
			"goroutines: %d before, %d after", goroutines, Later(func() any { return runtime.NumGoroutine() }))
		if fds >= 0 {
			Eventually(t, func() bool { return openFDs() <= fds },
				"file descriptors: %d before, %d after", fds, Later(func() any { return openFDs() }))
		}
	})
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
