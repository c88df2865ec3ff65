package graceful

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

var httpTransports = []transport{overH1, overH1TLS, overH2, overH2C, overUnix}

// A request in flight when the stop begins completes, while new connections
// are refused.
func TestInFlightRequestCompletes(t *testing.T) {
	for _, tr := range httpTransports {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr)
			res := f.holdRequest(t)
			if s := f.g.Stats(); s.Requests != 1 || s.Conns != 1 {
				t.Errorf("in flight: %+v, want one request on one connection", s)
			}
			f.r.cancel()
			waitState(t, f.g, StateDraining)
			eventually(t, f.ep.refused, "new connections are still accepted")
			if tr == overUnix {
				if _, err := os.Stat(f.ep.path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("socket file after its listener closed: %v", err)
				}
			}
			if f.r.returned() {
				t.Fatal("Run returned with a request in flight")
			}
			f.gt.release()
			if got := await(t, res); got.err != nil || got.code != 200 || got.body != "done: /slow" {
				t.Errorf("in-flight request: %+v, want 200 done: /slow", got)
			}
			f.r.expect(t, nil)
			rep := f.g.Report()
			if !errors.Is(rep.Cause, ErrContextDone) || rep.InFlight != 1 || rep.Completed != 1 || rep.Unfinished != 0 ||
				rep.Conns != 1 || rep.ForcedClosed != 0 || rep.TimedOut || rep.Forced {
				t.Errorf("report: %+v", rep)
			}
			if s := f.g.Stats(); s.State != StateStopped || s.Served != 1 {
				t.Errorf("stats after Run: %+v", s)
			}
		})
	}
}

// A keep-alive client's idle connection is closed as the drain begins, and
// the response in flight on another connection carries Connection: close.
func TestKeepAliveClientsToldToClose(t *testing.T) {
	for _, tr := range []transport{overH1, overH1TLS, overUnix} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr)
			busy := f.ep.dialRaw(t)
			busy.Send(t, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
			idle := f.ep.dialRaw(t)
			idle.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, _ := idle.Response(t); res.Close {
				t.Fatal("Connection: close before the stop")
			}
			f.gt.wait(t, 1)

			f.r.cancel()
			if !idle.ClosedByPeer(t) {
				t.Error("the idle keep-alive connection was not closed")
			}
			if f.r.returned() {
				t.Fatal("Run returned with a request in flight")
			}
			f.gt.release()
			// ReadResponse moves "Connection: close" to res.Close.
			if res, body := busy.Response(t); res.StatusCode != 200 || body != "done: /slow" || !res.Close {
				t.Errorf("in-flight response: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !busy.ClosedByPeer(t) {
				t.Error("the connection stayed open after its last response")
			}
			f.r.expect(t, nil)
		})
	}
}

// An HTTP/2 client gets GOAWAY while its stream is open, and the stream
// completes.
func TestHTTP2GoAway(t *testing.T) {
	for _, tr := range []transport{overH2, overH2C} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr)
			h := f.ep.dialH2(t)
			h.get(t, 1, "/slow")
			f.gt.wait(t, 1)
			f.r.cancel()
			if g := h.goAway(t, 1); g.LastStreamID != 1 || g.ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY last stream %d, %v; want 1, NO_ERROR", g.LastStreamID, g.ErrCode)
			}
			f.gt.release()
			if res := h.response(t, 1); res.status != "200" || res.body != "done: /slow" {
				t.Errorf("stream 1: %+v", res)
			}
			if !h.ClosedByPeer(t) {
				t.Error("the connection stayed open after its last stream")
			}
			f.r.expect(t, nil)
			if rep := f.g.Report(); rep.InFlight != 1 || rep.Completed != 1 || rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}

// The drain delay keeps the listeners open and the requests served while the
// ready handler answers 503.
func TestDrainDelayKeepsServing(t *testing.T) {
	const delay = 500 * time.Millisecond
	f := startOne(t, Config{DisableSignals: true, DrainDelay: delay}, overH1)
	if code, body, err := f.ep.get("/ready"); err != nil || code != 200 || body != "serving\n" {
		t.Fatalf("ready while serving: %d %q %v", code, body, err)
	}
	began := time.Now()
	f.r.cancel()
	waitState(t, f.g, StateStopping)
	// A new connection is accepted and served during the delay.
	c := f.ep.dialRaw(t)
	c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, body := c.Response(t); res.StatusCode != 200 || body != "fast" {
		t.Errorf("request during the delay: %d %q", res.StatusCode, body)
	}
	if code, body, err := f.ep.get("/ready"); err != nil || code != 503 || body != "stopping\n" {
		t.Errorf("ready during the delay: %d %q %v", code, body, err)
	}
	if s := f.g.Stats().State; s != StateStopping {
		t.Fatalf("state %v: the requests above took longer than the delay", s)
	}
	waitState(t, f.g, StateDraining)
	if d := time.Since(began); d < delay {
		t.Errorf("draining %v after the stop, before the delay of %v", d, delay)
	}
	eventually(t, f.ep.refused, "new connections are still accepted after the delay")
	f.r.expect(t, nil)
	if rep := f.g.Report(); rep.DrainDelay < delay || rep.Completed != 2 || rep.Forced {
		t.Errorf("report: %+v", rep)
	}
}

// At the shutdown timeout the connections still busy are closed and Run
// says so.
func TestShutdownTimeoutClosesTheRest(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tr := range []transport{overH1, overH2} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true, ShutdownTimeout: timeout}, tr)
			res := f.holdRequest(t)
			began := time.Now()
			f.r.cancel()
			f.r.expect(t, ErrShutdownTimeout)
			if d := time.Since(began); d < timeout || d > timeout+3*time.Second {
				t.Errorf("Run returned %v after the stop; the timeout is %v", d, timeout)
			}
			if got := await(t, res); got.err == nil {
				t.Errorf("the request cut at the deadline succeeded: %+v", got)
			}
			rep := f.g.Report()
			if !rep.TimedOut || rep.Forced || rep.ForcedClosed != 1 || rep.InFlight != 1 || rep.Completed != 0 || rep.Unfinished != 1 {
				t.Errorf("report: %+v", rep)
			}
			if s := f.g.Stats(); s.ForcedClosed != 1 {
				t.Errorf("stats: %+v", s)
			}
		})
	}
}

// Several servers, on TCP, TLS, h2c and a Unix socket, drain together.
func TestServersDrainTogether(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true})
	gt := newGate()
	var eps []*endpoint
	for _, tr := range httpTransports {
		eps = append(eps, addServer(t, g, tr, mux(g, gt)))
	}
	r := start(t, g)
	var results []<-chan result
	for _, ep := range eps {
		results = append(results, ep.getAsync("/slow"))
	}
	gt.wait(t, len(eps))
	r.cancel()
	for _, ep := range eps {
		eventually(t, ep.refused, "%s still accepts connections", ep.tr)
	}
	gt.release()
	for i, res := range results {
		if got := await(t, res); got.err != nil || got.code != 200 {
			t.Errorf("%s: %+v", eps[i].tr, got)
		}
	}
	r.expect(t, nil)
	if rep := g.Report(); rep.InFlight != int64(len(eps)) || rep.Completed != int64(len(eps)) || rep.TimedOut {
		t.Errorf("report: %+v", rep)
	}
}

// quietFor makes the group wait d of quiet before closing its listeners
// and before calling Shutdown, long enough to outlast a loaded machine.
func quietFor(d time.Duration) func(*Group) {
	return func(g *Group) { g.quiet, g.settleMax = d, 10*d }
}

// During the drain delay, HTTP/1.1 responses carry Connection: close and
// their connections are closed after them, on a connection opened before
// the stop as on one opened during the delay, which is served.
func TestDrainDelayTellsHTTP1ClientsToGo(t *testing.T) {
	const delay = time.Second
	for _, tr := range []transport{overH1, overH1TLS, overUnix} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true, DrainDelay: delay}, tr)
			old := f.ep.dialRaw(t)
			old.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, _ := old.Response(t); res.Close {
				t.Fatal("Connection: close before the stop")
			}
			f.r.cancel()
			waitState(t, f.g, StateStopping)
			old.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, body := old.Response(t); res.StatusCode != 200 || body != "fast" || !res.Close {
				t.Errorf("during the delay: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !old.ClosedByPeer(t) {
				t.Error("the connection stayed open after a response with Connection: close")
			}
			c := f.ep.dialRaw(t)
			c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, body := c.Response(t); res.StatusCode != 200 || body != "fast" || !res.Close {
				t.Errorf("new connection during the delay: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !c.ClosedByPeer(t) {
				t.Error("the new connection stayed open after a response with Connection: close")
			}
			if s := f.g.Stats().State; s != StateStopping {
				t.Fatalf("state %v: the requests above took longer than the delay", s)
			}
			f.r.expect(t, nil)
		})
	}
}

// During the drain delay, an HTTP/2 connection gets a graceful GOAWAY with
// its next response, while its listener is still open; the stream that
// response answers and the one in flight before the stop both complete.
func TestDrainDelayGoAway(t *testing.T) {
	const delay = time.Second
	for _, tr := range []transport{overH2, overH2C} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true, DrainDelay: delay}, tr)
			h := f.ep.dialH2(t)
			h.get(t, 1, "/slow")
			f.gt.wait(t, 1)
			f.r.cancel()
			waitState(t, f.g, StateStopping)
			h.get(t, 3, "/fast")
			res := h.response(t, 3)
			if res.status != "200" || res.body != "fast" {
				t.Errorf("stream 3: %+v", res)
			}
			if len(res.goAways) != 1 || res.goAways[0].LastStreamID != 3 || res.goAways[0].ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY frames before stream 3 ended: %+v; want one, last stream 3, NO_ERROR", res.goAways)
			}
			if s := f.g.Stats().State; s != StateStopping {
				t.Fatalf("state %v: the requests above took longer than the delay", s)
			}
			f.gt.release()
			if res := h.response(t, 1); res.status != "200" || res.body != "done: /slow" || len(res.goAways) != 0 {
				t.Errorf("stream 1: %+v", res)
			}
			if !h.ClosedByPeer(t) {
				t.Error("the connection stayed open after its last stream")
			}
			f.r.expect(t, nil)
			if rep := f.g.Report(); rep.InFlight != 1 || rep.Completed != 2 || rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}

// A connection accepted before the listeners close whose request arrives
// after is served, with Connection: close. net/http's Shutdown alone closes
// it without an answer (golang/go#65802).
func TestRequestOnConnectionAcceptedBeforeTheCloseIsServed(t *testing.T) {
	for _, tr := range []transport{overH1, overH1TLS, overUnix} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr, quietFor(500*time.Millisecond))
			c := f.ep.dialRaw(t)
			eventually(t, func() bool { return f.g.Stats().Conns == 1 }, "the connection was not accepted")
			f.r.cancel()
			eventually(t, f.ep.refused, "new connections are still accepted")
			c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(c.R, nil)
			if err != nil {
				t.Fatalf("the request sent after the listeners closed got no response: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != "fast" || !res.Close {
				t.Errorf("response: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !c.ClosedByPeer(t) {
				t.Error("the connection stayed open after its response")
			}
			f.r.expect(t, nil)
		})
	}
}

// A keep-alive client that sends its next request as the drain begins
// gets an answer, with Connection: close, rather than a connection closed
// under its request as an idle one.
func TestBusyKeepAliveConnectionIsNotCut(t *testing.T) {
	for _, tr := range []transport{overH1, overH1TLS, overUnix} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr, quietFor(time.Second))
			c := f.ep.dialRaw(t)
			c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, _ := c.Response(t); res.Close {
				t.Fatal("Connection: close before the stop")
			}
			f.r.cancel()
			eventually(t, f.ep.refused, "new connections are still accepted")
			c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(c.R, nil)
			if err != nil {
				t.Fatalf("the next request on the keep-alive connection got no response: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != "fast" || !res.Close {
				t.Errorf("response: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !c.ClosedByPeer(t) {
				t.Error("the connection stayed open after its response")
			}
			f.r.expect(t, nil)
		})
	}
}

// After the drain delay, the listeners stay open while clients keep
// connecting, and the responses no longer ask them to close, so that the
// listeners do not close on a connection half-way through being accepted.
// They close once the connections stop arriving.
func TestListenersCloseOnceConnectionsStopArriving(t *testing.T) {
	// A connection must arrive during the delay: none at all, and the
	// listeners close at its end.
	const delay = 300 * time.Millisecond
	f := startOne(t, Config{DisableSignals: true, DrainDelay: delay}, overH1, quietFor(400*time.Millisecond))
	f.r.cancel()
	waitState(t, f.g, StateStopping)
	told, last := 0, false
	for end := time.Now().Add(4 * delay); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		c := f.ep.dialRaw(t)
		c.Send(t, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		res, body := c.Response(t)
		if res.StatusCode != 200 || body != "fast" {
			t.Fatalf("a client connecting after the stop: %d %q", res.StatusCode, body)
		}
		if res.Close {
			told++
		}
		last = res.Close
		c.Close()
	}
	if s := f.g.Stats().State; s != StateStopping {
		t.Errorf("state %v while clients keep connecting", s)
	}
	if told == 0 || last {
		t.Errorf("%d responses asked to close the connection, the last one %v; want some during the delay, none after", told, last)
	}
	// A connection probing the listener before would keep it open.
	waitState(t, f.g, StateDraining)
	eventually(t, f.ep.refused, "the listener stayed open once the connections stopped arriving")
	f.r.expect(t, nil)
}

// TestDrainClosesSilentConnections: a connection that never sends a request
// (a speculative preconnect) does not hold the drain: once the drain has
// waited for its first request in vain, it is closed and counted, and the
// group stops well before net/http's 5 s for new connections, within a
// 4 s shutdown timeout. A connection that sends its request during that
// wait is served.
func TestDrainClosesSilentConnections(t *testing.T) {
	for _, tr := range []transport{overH1, overH1TLS, overH2, overH2C} {
		t.Run(string(tr), func(t *testing.T) {
			g := mustNew(t, Config{ShutdownTimeout: 4 * time.Second, Signals: []os.Signal{}})
			ep := addServer(t, g, tr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
			r := start(t, g)
			silent := ep.dialRaw(t)
			eventually(t, func() bool { return g.Stats().Conns == 1 }, "the silent connection accepted")
			began := time.Now()
			r.cancel()
			r.expect(t, nil)
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("the drain took %v", took)
			}
			rep := g.Report()
			if rep.SilentClosed != 1 || rep.ForcedClosed != 0 {
				t.Errorf("SilentClosed %d, ForcedClosed %d; want 1, 0", rep.SilentClosed, rep.ForcedClosed)
			}
			if _, err := silent.R.ReadByte(); err == nil {
				t.Error("the silent connection is still open")
			}
		})
	}
}

// TestDrainKeepsConnectionsWithUnreadBytes starts a request the server
// cannot read whole (half a request head, half the h2c preface) on a fresh
// connection, then drains: the connection is not taken for a silent one,
// since its client has sent bytes, and it is left to Shutdown and closed at
// the deadline. A drain that closed it would drop, on a machine short of
// CPU, a request the server had not read yet.
func TestDrainKeepsConnectionsWithUnreadBytes(t *testing.T) {
	for _, tt := range []struct {
		tr   transport
		sent string
	}{
		{overH1, "GET / HTTP/1.1\r\n"},
		{overH2C, "PRI * HTTP/2.0\r\n"},
	} {
		t.Run(string(tt.tr), func(t *testing.T) {
			g := mustNew(t, Config{ShutdownTimeout: 2500 * time.Millisecond, Signals: []os.Signal{}})
			ep := addServer(t, g, tt.tr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
			r := start(t, g)
			c := ep.dialRaw(t)
			_, err := c.Write([]byte(tt.sent))
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, func() bool { return g.Stats().Conns == 1 }, "the connection accepted")
			r.cancel()
			r.expect(t, ErrShutdownTimeout)
			rep := g.Report()
			if rep.SilentClosed != 0 || rep.ForcedClosed != 1 {
				t.Errorf("SilentClosed %d, ForcedClosed %d; want 0, 1", rep.SilentClosed, rep.ForcedClosed)
			}
		})
	}
}
