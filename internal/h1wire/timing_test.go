package h1wire

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
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

// scriptConn is a connection whose reads return the chunks of a script in
// turn, each after a look at the Conn reading it; its deadlines cost
// nothing.
type scriptConn struct {
	loopConn
	chunks []string
	look   func(i int)
	i      int
}

func (c *scriptConn) Read(b []byte) (int, error) {
	c.look(c.i)
	if c.i == len(c.chunks) {
		return 0, io.EOF
	}
	n := copy(b, c.chunks[c.i])
	c.i++
	return n, nil
}

// TestBoundDeadlines follows the deadline a Conn with its server's bounds
// (Conn.Bound) puts before each read, as net/http reads requests that come
// in pieces: each wait and head ends at the sooner of the timer and the
// bound net/http would run, from the moment net/http starts it, and the
// timer still runs from the head's first byte.
func TestBoundDeadlines(t *testing.T) {
	const (
		timer = 10 * time.Second // KeepAliveTimeout
		rh    = 9 * time.Second  // RequestHeadersTimeout
		idle  = 3 * time.Second
		head  = 2 * time.Second
		slack = int64(50 * time.Millisecond) // between a now() in the test and the Conn's
		pause = 200 * time.Millisecond       // the client's, in some reads: far more than slack
	)
	type step struct {
		name  string
		dl    uint8
		by    uint8
		from  string        // "accept", "wait" (its start), "first" (the head's first byte read) or "now"
		after time.Duration // the deadline, after from
	}
	const whole = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	// A request, then one whose first byte comes alone and whose fourth
	// ends the next piece.
	pieces := []string{whole, "G", "ET ", "/ HTTP/1.1\r\nHost: a\r\n\r\n"}
	for _, sc := range []struct {
		name       string
		idle, head time.Duration
		chunks     []string
		pauses     []int // the reads that pause before they return
		steps      []step
	}{
		{"both bounds", idle, head,
			[]string{"GE", "T / HTTP/1.1\r\nHost: a\r\n\r\n", "G", "ET", " / HTTP/1.1\r\n", "Host: a\r\n\r\n"}, []int{0, 2, 3},
			[]step{
				{"a new connection's wait: the head bound from the accept", dlKeepAlive, byHead, "accept", head},
				{"its first head: still from the accept", dlHeaders, byHead, "accept", head},
				{"the wait between requests: the idle bound", dlKeepAlive, byIdle, "wait", idle},
				{"a later head's first byte: the idle bound still, from the wait", dlEarly, byIdle, "wait", idle},
				{"three bytes: unchanged", dlEarly, byIdle, "wait", idle},
				{"the fourth byte: the head bound from it", dlHeaders, byHead, "now", head},
			}},
		{"the idle bound only", idle, 0,
			pieces, []int{1, 2},
			[]step{
				{"a new connection's wait: the timer", dlKeepAlive, byTimer, "accept", timer},
				{"the wait between requests: the idle bound", dlKeepAlive, byIdle, "wait", idle},
				{"the first byte: the idle bound, from the wait", dlEarly, byIdle, "wait", idle},
				{"exactly four bytes: the timer, from the first byte", dlHeaders, byTimer, "first", rh},
			}},
		{"the head bound only", 0, head,
			pieces, []int{1, 2},
			[]step{
				{"a new connection's wait: the head bound from the accept", dlKeepAlive, byHead, "accept", head},
				{"the wait between requests: the timer", dlKeepAlive, byTimer, "wait", timer},
				{"the first byte: the timer, not yet the head bound", dlEarly, byTimer, "first", rh},
				{"the fourth byte: the head bound from it", dlHeaders, byHead, "now", head},
			}},
		{"a bound that ties with the timer is the server's", timer, 0,
			[]string{whole, whole}, nil,
			[]step{
				{"a new connection's wait: the timer", dlKeepAlive, byTimer, "accept", timer},
				{"the wait between requests: the idle bound", dlKeepAlive, byIdle, "wait", timer},
			}},
		{"CR and LF after a POST count toward the four bytes", idle, head,
			[]string{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", "\r\nG", "E", "T / HTTP/1.1\r\nHost: a\r\n\r\n"}, []int{1, 2},
			[]step{
				{"a new connection's wait", dlKeepAlive, byHead, "accept", head},
				{"the wait between requests", dlKeepAlive, byIdle, "wait", idle},
				{"two skipped and one byte: the idle bound", dlEarly, byIdle, "wait", idle},
				{"the fourth byte: the head bound from it", dlHeaders, byHead, "now", head},
			}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			conn := &scriptConn{chunks: sc.chunks}
			c := New(Config{KeepAliveTimeout: timer, RequestHeadersTimeout: rh}).Conn(conn)
			c.Bound(sc.idle, sc.head)
			accept := c.start
			var wait, first int64
			conn.look = func(i int) {
				now := now()
				if i >= len(sc.steps) {
					return
				}
				if sc.steps[i].dl == dlKeepAlive {
					wait = now
				}
				if sc.steps[i].dl == dlEarly && (i == 0 || sc.steps[i-1].dl != dlEarly) {
					first = now
				}
				defer func() {
					if slices.Contains(sc.pauses, i) {
						time.Sleep(pause) // so that a deadline from the wrong moment shows
					}
				}()
				st := sc.steps[i]
				from := map[string]int64{"accept": accept, "wait": wait, "first": first, "now": now}[st.from]
				want := from + int64(st.after)
				if c.dl != st.dl || c.bound != st.by || c.ourDL > want+slack || c.ourDL < want-slack {
					t.Errorf("%s: dl %d by %d at %v after %s, want dl %d by %d at %v", st.name, c.dl, c.bound,
						time.Duration(c.ourDL-from), st.from, st.dl, st.by, st.after)
				}
				if c.timer() != st.after {
					t.Errorf("%s: timer() = %v, want %v", st.name, c.timer(), st.after)
				}
			}
			buf := make([]byte, 4096)
			for range sc.chunks {
				if _, err := c.Read(buf); err != nil {
					t.Fatal(err)
				}
			}
			if conn.i != len(sc.chunks) || c.dl != dlNone || !c.await {
				t.Errorf("read %d of %d chunks; dl %d, await %v: the last request did not end", conn.i, len(sc.chunks), c.dl, c.await)
			}
		})
	}
}
