package h1wire

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// joinListener wraps every connection with head, then joins timers to it,
// as limits' and timeouts' listeners do when both are stacked.
type joinListener struct {
	net.Listener
	head, timers *Wire
}

func (l joinListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := l.head.Conn(c)
	l.timers.Join(wc)
	return wc, nil
}

// TestJoin: two Wires of different parts follow one connection; each
// counts the decisions of its own part.
func TestJoin(t *testing.T) {
	dh, dt := new(decisions), new(decisions)
	head := New(Config{MaxRequestHeaderCount: 2, KeepAliveTimeout: time.Hour, RequestHeadersTimeout: time.Hour, Parts: PartHead, OnReject: dh.add})
	timers := New(Config{MaxRequestHeaderCount: 1000, KeepAliveTimeout: keepAlive, RequestHeadersTimeout: headers, Parts: PartTimers, OnReject: dt.add})
	s := testserver.Start(t, echo, testserver.H1, func(ts *httptest.Server) {
		ts.Listener = joinListener{ts.Listener, head, timers}
		ts.Config.ConnContext = ConnContext
	}, kestrelServer)

	// The head's limit is head's: 3 field lines get 431, counted by head.
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n")
	expectAnswer(t, c, ReasonTooManyHeaders)
	// The timers are timers': a head cut short gets 408 within headers.
	c = testserver.Dial(t, s.Addr())
	began := time.Now()
	c.Send(t, "GET / HTTP/1.1\r\nHo")
	expectAnswer(t, c, ReasonRequestHeadersTimeout)
	if took := time.Since(began); took > headers+time.Second {
		t.Fatalf("408 after %v, want about %v", took, headers)
	}
	testserver.Eventually(t, func() bool { return len(dh.list()) == 1 && len(dt.list()) == 1 }, "head %v, timers %v", dh.list(), dt.list())
	if dh.list()[0].Reason != ReasonTooManyHeaders || dt.list()[0].Reason != ReasonRequestHeadersTimeout {
		t.Fatalf("head %v, timers %v", dh.list(), dt.list())
	}
	if head.Stats().Closed[ReasonRequestHeadersTimeout] != 0 || timers.Stats().Closed[ReasonTooManyHeaders] != 0 {
		t.Fatal("a decision counted by the other part's Wire")
	}
}

// TestTimersOnly: a Wire of PartTimers alone checks nothing of a head: no
// limits, no Kestrel checks, and a folded line makes it stop following the
// connection rather than guess the framing net/http will see.
func TestTimersOnly(t *testing.T) {
	s, d := start(t, Config{MaxRequestHeaderCount: 1, KeepAliveTimeout: keepAlive, RequestHeadersTimeout: headers, Parts: PartTimers}, echo, testserver.H1, kestrelServer)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.5\r\nHost: a=b\r\nA: 1\r\nB: 2\r\n\r\n")
	expect(t, c, 200, "GET 0 0")
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	expect(t, c, 200, "POST 3 0")
	if len(d.list()) != 0 {
		t.Fatalf("decisions %v", d.list())
	}
}

// TestHeadWire: the Wire that applies the head's part is the one that made
// the Conn, or the one that joined it for that part; a Conn whose Wires
// have no head part has none.
func TestHeadWire(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	head := New(Config{Parts: PartHead})
	timers := New(Config{Parts: PartTimers})
	all := New(Config{})

	if got := head.Conn(a).HeadWire(); got != head {
		t.Errorf("a head Wire's Conn: HeadWire %p, want %p", got, head)
	}
	wc := timers.Conn(a)
	if got := wc.HeadWire(); got != nil {
		t.Errorf("a timers Wire's Conn: HeadWire %p, want nil", got)
	}
	head.Join(wc)
	if got := wc.HeadWire(); got != head {
		t.Errorf("after the head Wire joined: HeadWire %p, want %p", got, head)
	}
	wc = all.Conn(a)
	timers.Join(wc)
	if got := wc.HeadWire(); got != all {
		t.Errorf("after a timers Wire joined: HeadWire %p, want %p", got, all)
	}
}

// TestClaimBodyError: the decision on a body is handed out once, and its
// BodyError stays.
func TestClaimBodyError(t *testing.T) {
	claims := make(chan [2]*Error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		wc := FromContext(r.Context())
		first, second := wc.ClaimBodyError(), wc.ClaimBodyError()
		if wc.BodyError() != first {
			t.Error("BodyError changed after the claim")
		}
		claims <- [2]*Error{first, second}
	})
	s, _ := start(t, Config{}, h, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
	got := <-claims
	if got[0] == nil || got[0].Reason != ReasonInvalidChunkedBody || got[1] != nil {
		t.Fatalf("claims %v, %v: want the decision, then nil", got[0], got[1])
	}
	c = testserver.Dial(t, s.Addr())
	c.Send(t, get("/"))
	if got := <-claims; got[0] != nil || got[1] != nil {
		t.Fatalf("claims %v, %v without a decision", got[0], got[1])
	}
}

// TestTimes: a Wire times a Conn it made or joined with PartTimers, and no
// longer once another Wire joined it for the timers.
func TestTimes(t *testing.T) {
	head := New(Config{Parts: PartHead})
	timers := New(Config{Parts: PartTimers})
	other := New(Config{Parts: PartTimers})
	c := head.Conn(nil)
	if head.Times(c) || timers.Times(c) {
		t.Fatal("a Conn of PartHead is timed")
	}
	timers.Join(c)
	if !timers.Times(c) || head.Times(c) {
		t.Fatal("the timers' Wire does not time the Conn it joined")
	}
	other.Join(c)
	if timers.Times(c) || !other.Times(c) {
		t.Fatal("the last Wire to join for the timers does not time the Conn")
	}
	all := New(Config{})
	if !all.Times(all.Conn(nil)) {
		t.Fatal("a Wire of every part does not time its own Conn")
	}
}
