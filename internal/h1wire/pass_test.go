package h1wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// TestHijack checks that the Conn stops following a connection a handler
// took over: what the client sends then is no request.
func TestHijack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		_, _ = io.Copy(c, rw)
	})
	s, d := start(t, Config{MaxRequestLineSize: 20}, h, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	res, err := http.ReadResponse(c.R, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v %v", res, err)
	}
	// An obs-fold line, a long line, a bad Host: all data now.
	data := " folded\r\n" + strings.Repeat("x", 100) + "\r\nHost: a=b\r\n\r\n"
	c.Send(t, data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c.R, got); err != nil || string(got) != data {
		t.Fatalf("echo %q, %v", got, err)
	}
	if len(d.list()) != 0 {
		t.Fatalf("decisions after the hijack: %v", d.list())
	}
}

// TestHijackedTold checks Hijacked, for a hijack the Conn would not see.
func TestHijackedTold(t *testing.T) {
	w := New(Config{})
	server, client := net.Pipe()
	defer client.Close()
	c := w.Conn(server)
	c.Hijacked()
	if c.Tracking() {
		t.Fatal("still tracking")
	}
	go func() { _, _ = client.Write([]byte(" not a request\r\n")) }()
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != " not a request\r\n" {
		t.Fatalf("%q %v", b[:n], err)
	}
}

// TestOtherProtocols checks that HTTP/2 with prior knowledge, TLS and
// HTTP/2 over TLS pass through the Conn untouched.
func TestOtherProtocols(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H2C, testserver.H1TLS, testserver.H2} {
		t.Run(string(p), func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wc := FromContext(r.Context())
				fmt.Fprintf(w, "%s %v", r.Proto, wc != nil && wc.Tracking())
			})
			s, d := start(t, Config{MaxRequestLineSize: 20}, h, p)
			want := "HTTP/2.0 false"
			if p == testserver.H1TLS {
				want = "HTTP/1.1 false"
			}
			for range 2 {
				code, body := s.Get(t, "/"+strings.Repeat("a", 100), nil)
				if code != http.StatusOK || body != want {
					t.Fatalf("%d %q, want %q", code, body, want)
				}
			}
			if len(d.list()) != 0 {
				t.Fatalf("decisions: %v", d.list())
			}
		})
	}
}

// TestTLSHandshakeTimeout checks that under TLS, a connection that sends
// nothing gets the server's handshake deadline, not the keep-alive timeout:
// the Wire never holds a connection longer than net/http would.
func TestTLSHandshakeTimeout(t *testing.T) {
	s, _ := start(t, Config{KeepAliveTimeout: 10 * time.Second}, echo, testserver.H1TLS,
		func(ts *httptest.Server) { ts.Config.ReadHeaderTimeout = 200 * time.Millisecond })
	c := testserver.Dial(t, s.Addr())
	began := time.Now()
	if !c.ClosedByPeer(t) {
		t.Fatal("connection still open")
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("closed after %v", took)
	}
}

// TestBackgroundRead checks that net/http still notices a client that goes
// away while its handler runs.
func TestBackgroundRead(t *testing.T) {
	gone := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gone <- r.Context().Err()
		case <-time.After(5 * time.Second):
			gone <- errors.New("context not canceled")
		}
	})
	s, _ := start(t, Config{}, h, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, get("/"))
	time.Sleep(50 * time.Millisecond)
	c.Close()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestExpectContinue checks that a client waiting for 100 Continue gets it
// and its body is counted.
func TestExpectContinue(t *testing.T) {
	s, _ := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.R.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if _, err := c.R.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	c.Send(t, "body")
	expect(t, c, http.StatusOK, "PUT 4 4")
}

// TestLongBody checks bodies past the stash and the buffer sizes, sent in
// pieces, followed by more requests.
func TestLongBody(t *testing.T) {
	s, _ := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	body := strings.Repeat("0123456789", 100_000)
	go func() {
		w := bufio.NewWriterSize(c, 1000)
		fmt.Fprintf(w, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		fmt.Fprintf(w, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		fmt.Fprint(w, get("/"))
		w.Flush()
	}()
	chunked := len(fmt.Sprintf("%x\r\n\r\n0\r\n\r\n", len(body))) + len(body)
	expect(t, c, http.StatusOK, fmt.Sprintf("POST %d %d", len(body), len(body)))
	expect(t, c, http.StatusOK, fmt.Sprintf("POST %d %d", len(body), chunked))
	expect(t, c, http.StatusOK, "GET 0 0")
}
