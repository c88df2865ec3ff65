package limits

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A protocol the test servers speak.
type proto string

const (
	h1    proto = "h1"    // HTTP/1.1 over TCP
	h2tls proto = "h2"    // HTTP/2 over TLS
	h2c   proto = "h2c"   // HTTP/2 with prior knowledge over TCP
	h1tls proto = "h1tls" // HTTP/1.1 over TLS
)

var allProtos = []proto{h1, h2tls, h2c}

// testServer is a real server on 127.0.0.1:0 behind a Limiter.
type testServer struct {
	*httptest.Server
	proto  proto
	client *http.Client
}

// serve starts h behind lim (Handler, Apply and Listener) speaking p.
func serve(t testing.TB, lim *Limiter, h http.Handler, p proto) *testServer {
	t.Helper()
	if lim != nil {
		h = lim.Handler(h)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if lim != nil {
		lim.Apply(ts.Config)
		ts.Listener = lim.Listener(ts.Listener)
	}
	s := &testServer{Server: ts, proto: p}
	switch p {
	case h1:
		ts.Start()
		s.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	case h2c:
		ts.Config.Protocols = new(http.Protocols)
		ts.Config.Protocols.SetHTTP1(true)
		ts.Config.Protocols.SetUnencryptedHTTP2(true)
		ts.Start()
		tr := &http.Transport{Protocols: new(http.Protocols), DisableCompression: true}
		tr.Protocols.SetUnencryptedHTTP2(true)
		s.client = &http.Client{Transport: tr}
	case h2tls, h1tls:
		ts.EnableHTTP2 = p == h2tls
		ts.StartTLS()
		tr := &http.Transport{
			TLSClientConfig:    &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
			Protocols:          new(http.Protocols),
			DisableCompression: true,
		}
		tr.Protocols.SetHTTP1(p == h1tls)
		tr.Protocols.SetHTTP2(p == h2tls)
		s.client = &http.Client{Transport: tr}
	}
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		ts.Close()
	})
	return s
}

// do sends req and returns the status and body, checking the protocol used.
func (s *testServer) do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	res, err := s.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	wantMajor := 1
	if s.proto == h2tls || s.proto == h2c {
		wantMajor = 2
	}
	require.Equal(t, wantMajor, res.ProtoMajor, "protocol")
	return res.StatusCode, string(body)
}

func (s *testServer) get(t testing.TB, target string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+target, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	return s.do(t, req)
}

func (s *testServer) addr() string { return s.Listener.Addr().String() }

// rawConn is a plaintext client connection speaking bytes.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(t testing.TB, s string) {
	t.Helper()
	_, err := io.WriteString(c, s)
	require.NoError(t, err)
}

// response reads one response, with its whole body.
func (c *rawConn) response(t testing.TB) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	res.Body.Close()
	return res, string(body)
}

// closedByPeer reports whether the server closed the connection: a read ends
// in EOF or a reset rather than a timeout.
func (c *rawConn) closedByPeer(t testing.TB) bool {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := c.br.ReadByte()
	if err == nil {
		return false
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// eventually retries cond for up to five seconds.
func eventually(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNoLeaks records goroutines and file descriptors now and, at cleanup,
// waits for both to come back to that level. Register it before the servers,
// so that it runs after they have been closed.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	goroutines := runtime.NumGoroutine()
	fds := openFDs()
	t.Cleanup(func() {
		eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines },
			"goroutines: %d before, %d after", goroutines, runtime.NumGoroutine())
		if fds >= 0 {
			eventually(t, func() bool { return openFDs() <= fds },
				"file descriptors: %d before, %d after", fds, openFDs())
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

// hello answers "hello\n".
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello\n")
})

// headerOfSize returns n header fields named X-Hnnn with values padded so
// that the fields total size bytes as Kestrel counts them (at least 12 bytes
// each).
func headerOfSize(n, size int) http.Header {
	h := http.Header{}
	per := size / n
	for i := range n {
		name := fmt.Sprintf("X-H%03d", i)
		valueLen := per - len(name) - fieldOverhead
		if i == n-1 {
			valueLen += size - per*n
		}
		h[name] = []string{strings.Repeat("v", valueLen)}
	}
	return h
}
