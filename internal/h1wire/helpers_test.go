package h1wire

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/windhover/windhover/internal/testserver"
)

// testListener wraps every connection it accepts with w.
type testListener struct {
	net.Listener
	w *Wire
}

func (l testListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.w.Conn(c), nil
}

// decisions records what a Wire decided, for the tests.
type decisions struct {
	mu   sync.Mutex
	errs []*Error
}

func (d *decisions) add(e *Error) {
	d.mu.Lock()
	d.errs = append(d.errs, e)
	d.mu.Unlock()
}

func (d *decisions) list() []*Error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Error(nil), d.errs...)
}

// start serves h over HTTP/1.1 (or p) on 127.0.0.1:0 through a Wire with
// cfg, and returns the server and the decisions.
func start(t *testing.T, cfg Config, h http.Handler, p testserver.Proto, setup ...testserver.Setup) (*testserver.Server, *decisions) {
	t.Helper()
	d := new(decisions)
	cfg.OnReject = d.add
	w := New(cfg)
	wrap := func(ts *httptest.Server) {
		ts.Listener = testListener{ts.Listener, w}
		ts.Config.ConnContext = ConnContext
	}
	return testserver.Start(t, h, p, append([]testserver.Setup{wrap}, setup...)...), d
}

// echo reads the body and answers "<method> <body length> <BodyBytes>".
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var counted int64 = -1
	if wc := FromContext(r.Context()); wc != nil {
		counted = wc.BodyBytes()
	}
	fmt.Fprintf(w, "%s %d %d", r.Method, n, counted)
})

// get is a minimal request with Host.
func get(target string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n"
}

// expect reads one response from c and checks its status and body.
func expect(t *testing.T, c *testserver.Conn, status int, body string) {
	t.Helper()
	res, got := c.Response(t)
	if res.StatusCode != status || got != body {
		t.Fatalf("got %d %q, want %d %q", res.StatusCode, got, status, body)
	}
}

// expectAnswer reads the Wire's answer for why, and checks that the
// connection then closes.
func expectAnswer(t *testing.T, c *testserver.Conn, why Reason) {
	t.Helper()
	res, body := c.Response(t)
	text := http.StatusText(why.Status())
	if res.StatusCode != why.Status() || body != text+"\n" || !res.Close {
		t.Fatalf("got %d %q (close %v), want %d %q and Connection: close", res.StatusCode, body, res.Close, why.Status(), text+"\n")
	}
	if !c.ClosedByPeer(t) {
		t.Fatal("connection still open after the answer")
	}
}

// fields returns n field lines "X-NNN: v...\r\n" of total bytes, n > 0.
func fields(n, total int) string {
	var b strings.Builder
	for i := range n {
		line := fmt.Sprintf("X-%03d: ", i)
		if i == n-1 {
			line += strings.Repeat("v", total-b.Len()-len(line)-2)
		}
		b.WriteString(line + "\r\n")
	}
	return b.String()
}
