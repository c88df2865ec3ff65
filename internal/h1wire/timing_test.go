package h1wire

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// The timers of these tests: long enough for a loaded machine to keep up
// with, short enough to keep the tests quick.
const (
	keepAlive = 600 * time.Millisecond
	headers   = 300 * time.Millisecond
)

var timers = Config{KeepAliveTimeout: keepAlive, RequestHeadersTimeout: headers}

// kestrelServer gives the server the same timeouts, as timeouts.Apply does:
// bare net/http would time the head from the accept and close silently.
func kestrelServer(ts *httptest.Server) {
	ts.Config.ReadHeaderTimeout = headers
	ts.Config.IdleTimeout = keepAlive
}

// closedSilently checks that the server closed c without writing, within
// [min, max] of began.
func closedSilently(t *testing.T, c *testserver.Conn, began time.Time, lo, hi time.Duration) {
	t.Helper()
	got, err := io.ReadAll(c.R)
	took := time.Since(began)
	if len(got) != 0 || err != nil {
		t.Fatalf("read %q, %v; want a silent close", got, err)
	}
	if took < lo || took > hi {
		t.Fatalf("closed after %v, want %v to %v", took, lo, hi)
	}
}

// TestKeepAliveTimeout: a connection that sends nothing is closed without an
// answer after KeepAliveTimeout, not after the server's ReadHeaderTimeout.
func TestKeepAliveTimeout(t *testing.T) {
	s, d := start(t, timers, echo, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	closedSilently(t, c, time.Now(), keepAlive-50*time.Millisecond, keepAlive+time.Second)
	testserver.Eventually(t, func() bool { return len(d.list()) == 1 }, "decisions %v", d.list())
	if e := d.list()[0]; e.Reason != ReasonKeepAliveTimeout {
		t.Fatalf("decision %v", e)
	}
}

// TestFirstByteStartsHeaderTimer: a connection idle longer than the headers
// timeout, shorter than the keep-alive timeout, is served (Kestrel's
// Http1ConnectionTests: the headers timeout starts on the first byte).
func TestFirstByteStartsHeaderTimer(t *testing.T) {
	s, _ := start(t, timers, echo, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	time.Sleep(headers + 100*time.Millisecond)
	c.Send(t, get("/"))
	expect(t, c, http.StatusOK, "GET 0 0")

	// And between requests, from the end of the response.
	time.Sleep(headers + 100*time.Millisecond)
	c.Send(t, get("/"))
	expect(t, c, http.StatusOK, "GET 0 0")
	closedSilently(t, c, time.Now(), keepAlive-50*time.Millisecond, keepAlive+time.Second)
}

// TestRequestHeadersTimeout: a head that stops, mid-line or between lines,
// gets 408 and the connection closes, RequestHeadersTimeout after its first
// byte.
func TestRequestHeadersTimeout(t *testing.T) {
	for _, head := range []string{"G", "GET / HT", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\nX-"} {
		t.Run(fmt.Sprintf("%q", head), func(t *testing.T) {
			s, d := start(t, timers, echo, testserver.H1, kestrelServer)
			c := testserver.Dial(t, s.Addr())
			time.Sleep(headers / 2)
			c.Send(t, head)
			began := time.Now()
			expectAnswer(t, c, ReasonRequestHeadersTimeout)
			if took := time.Since(began); took < headers-50*time.Millisecond {
				t.Fatalf("answered after %v, want %v from the first byte", took, headers)
			}
			if got := d.list(); len(got) != 1 || got[0].Reason != ReasonRequestHeadersTimeout {
				t.Fatalf("decisions %v", got)
			}
		})
	}
}

// TestHeaderTimerAfterResponse: the start of a pipelined request, read by
// net/http's background read while a slow handler runs, is timed from the end
// of the response, as Kestrel times a request from when it starts processing
// it.
func TestHeaderTimerAfterResponse(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(2 * headers)
		}
		io.WriteString(w, r.URL.Path)
	})
	s, _ := start(t, timers, h, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, get("/slow")+"GET /next HTTP/1.1\r\nHo")
	expect(t, c, http.StatusOK, "/slow")
	time.Sleep(headers / 3)
	c.Send(t, "st: a\r\n\r\n")
	expect(t, c, http.StatusOK, "/next")
}

// TestBodyNotTimedAsHead: a body sent slowly is not cut by the headers
// timeout, and a handler's own read deadline still works.
func TestBodyNotTimedAsHead(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deadline" {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(headers / 3))
		}
		n, err := io.Copy(io.Discard, r.Body)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			http.Error(w, "deadline", http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "%d %v", n, err)
	})
	s, _ := start(t, timers, h, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n")
	for _, b := range "body" {
		time.Sleep(headers / 2)
		c.Send(t, string(b))
	}
	expect(t, c, http.StatusOK, "4 <nil>")

	c = testserver.Dial(t, s.Addr())
	c.Send(t, "POST /deadline HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nb")
	expect(t, c, http.StatusRequestTimeout, "deadline\n")
}

// TestTimersOff: a negative timer leaves the wait to the server's own
// deadline.
func TestTimersOff(t *testing.T) {
	s, _ := start(t, Config{KeepAliveTimeout: -1, RequestHeadersTimeout: -1}, echo, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	closedSilently(t, c, time.Now(), headers-50*time.Millisecond, headers+time.Second)
}

// TestKeepAliveBetweenRequests: between requests, KeepAliveTimeout times
// the wait, from the end of the response, in place of the server's
// IdleTimeout.
func TestKeepAliveBetweenRequests(t *testing.T) {
	for _, idle := range []time.Duration{0, headers, 3 * keepAlive} {
		t.Run(fmt.Sprint("IdleTimeout ", idle), func(t *testing.T) {
			s, d := start(t, timers, echo, testserver.H1, func(ts *httptest.Server) { ts.Config.IdleTimeout = idle })
			c := testserver.Dial(t, s.Addr())
			c.Send(t, get("/"))
			expect(t, c, http.StatusOK, "GET 0 0")
			closedSilently(t, c, time.Now(), keepAlive-50*time.Millisecond, keepAlive+time.Second)
			testserver.Eventually(t, func() bool { return len(d.list()) == 1 }, "decisions %v", d.list())
			if e := d.list()[0]; e.Reason != ReasonKeepAliveTimeout {
				t.Fatalf("decision %v", e)
			}
		})
	}
}

// TestBounded: a server's own bounds (Wire.Bound) replace a timer only where
// they end a wait sooner: the idle bound between requests, the head bound
// from a head's first byte, and from the accept until the first head ends,
// as net/http times them; the shortest of several calls stands.
func TestBounded(t *testing.T) {
	const (
		start = int64(1000)
		from  = int64(5000) // when the wait began
		s     = int64(time.Second)
	)
	w := New(Config{KeepAliveTimeout: 10 * time.Second, RequestHeadersTimeout: 10 * time.Second})
	ka, hd := w.s.keepAlive, w.s.headers
	type got struct {
		at int64
		by uint8
	}
	check := func(name string, want uint8, first bool, d time.Duration, exp got) {
		t.Helper()
		at, by := w.bounded(want, from, d, start, first)
		if (got{at, by}) != exp {
			t.Errorf("%s: got %+v, want %+v", name, got{at, by}, exp)
		}
	}
	check("no bounds: the timer", dlKeepAlive, false, ka, got{from + 10*s, byTimer})

	w.Bound(3*time.Second, 0)
	w.Bound(4*time.Second, -1) // longer, or none: the shortest stands
	check("idle bound between requests", dlKeepAlive, false, ka, got{from + 3*s, byIdle})
	check("idle bound: not the first wait", dlKeepAlive, true, ka, got{from + 10*s, byTimer})
	check("idle bound: not a head", dlHeaders, false, hd, got{from + 10*s, byTimer})
	if w.timer(dlKeepAlive, byIdle) != 3*time.Second {
		t.Errorf("timer(byIdle) = %v", w.timer(dlKeepAlive, byIdle))
	}

	w.Bound(0, 2*time.Second)
	check("head bound from the first byte", dlHeaders, false, hd, got{from + 2*s, byHead})
	check("head bound from the accept: the first wait", dlKeepAlive, true, ka, got{start + 2*s, byHead})
	check("head bound from the accept: the first head", dlHeaders, true, hd, got{start + 2*s, byHead})
	check("the idle bound is sooner than the head bound from the wait", dlKeepAlive, false, ka, got{from + 3*s, byIdle})
	check("a timer shorter than the bounds stands", dlHeaders, false, time.Second, got{from + s, byTimer})
	for _, c := range []struct {
		dl, by uint8
		want   time.Duration
	}{{dlKeepAlive, byTimer, ka}, {dlHeaders, byTimer, hd}, {dlHeaders, byHead, 2 * time.Second}, {dlKeepAlive, byIdle, 3 * time.Second}} {
		if got := w.timer(c.dl, c.by); got != c.want {
			t.Errorf("timer(%d, %d) = %v, want %v", c.dl, c.by, got, c.want)
		}
	}
}
