package graceful

import (
	"bufio"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

var httpTransports = []transport{overH1, overH1TLS, overH2, overH2C, overUnix}

// A request in flight when the stop begins completes, while new connections
// are refused.
func TestInFlightRequestCompletes(t *testing.T) {
	for _, tr := range httpTransports {
		t.Run(string(tr), func(t *testing.T) {
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true})
			gt := newGate()
			ep := addServer(t, g, tr, mux(g, gt))
			r := start(t, g)

			res := ep.getAsync("/slow")
			gt.wait(t, 1)
			if s := g.Stats(); s.Requests != 1 || s.Conns != 1 {
				t.Errorf("in flight: %+v, want one request on one connection", s)
			}
			r.cancel()
			waitState(t, g, StateDraining)
			eventually(t, func() bool { return ep.refused(t) }, "new connections are still accepted")
			if tr == overUnix {
				if _, err := os.Stat(ep.path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("socket file after its listener closed: %v", err)
				}
			}
			if r.returned() {
				t.Fatal("Run returned with a request in flight")
			}
			gt.release()
			if got := await(t, res); got.err != nil || got.code != 200 || got.body != "done: /slow" {
				t.Errorf("in-flight request: %+v, want 200 done: /slow", got)
			}
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
			rep := g.Report()
			if !errors.Is(rep.Cause, ErrContextDone) || rep.InFlight != 1 || rep.Completed != 1 || rep.Unfinished != 0 ||
				rep.Conns != 1 || rep.ForcedClosed != 0 || rep.TimedOut || rep.Forced {
				t.Errorf("report: %+v", rep)
			}
			if s := g.Stats(); s.State != StateStopped || s.Served != 1 {
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
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true})
			gt := newGate()
			ep := addServer(t, g, tr, mux(g, gt))
			r := start(t, g)

			busy, err := ep.dialRaw(t)
			if err != nil {
				t.Fatal(err)
			}
			busyR := bufio.NewReader(busy)
			if _, err := busy.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			idle, err := ep.dialRaw(t)
			if err != nil {
				t.Fatal(err)
			}
			idleR := bufio.NewReader(idle)
			if res, _ := rawGet(t, idle, idleR, "/fast"); res.Close {
				t.Fatal("Connection: close before the stop")
			}
			gt.wait(t, 1)

			r.cancel()
			if !closedWithin(idle, idleR, 5*time.Second) {
				t.Error("the idle keep-alive connection was not closed")
			}
			if r.returned() {
				t.Fatal("Run returned with a request in flight")
			}
			gt.release()
			res, body := readResponse(t, busyR)
			// ReadResponse moves "Connection: close" to res.Close.
			if res.StatusCode != 200 || body != "done: /slow" || !res.Close {
				t.Errorf("in-flight response: %d %q, Connection: close %v", res.StatusCode, body, res.Close)
			}
			if !closedWithin(busy, busyR, 5*time.Second) {
				t.Error("the connection stayed open after its last response")
			}
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// An HTTP/2 client gets GOAWAY while its stream is open, and the stream
// completes.
func TestHTTP2GoAway(t *testing.T) {
	for _, tr := range []transport{overH2, overH2C} {
		t.Run(string(tr), func(t *testing.T) {
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true})
			gt := newGate()
			ep := addServer(t, g, tr, mux(g, gt))
			r := start(t, g)

			h := ep.dialH2(t)
			h.get(t, 1, "/slow")
			gt.wait(t, 1)
			r.cancel()
			for {
				f, err := h.read(t)
				if err != nil {
					t.Fatalf("waiting for GOAWAY: %v", err)
				}
				if f.stream == 1 && (f.typ == h2Headers || f.typ == h2Data) {
					t.Fatalf("stream 1 answered before the gate opened: frame type %d", f.typ)
				}
				if f.typ != h2GoAway {
					continue
				}
				last, code := binary.BigEndian.Uint32(f.payload)&^(1<<31), binary.BigEndian.Uint32(f.payload[4:])
				if last != 1 || code != 0 {
					t.Errorf("GOAWAY last stream %d, code %d; want 1, NO_ERROR", last, code)
				}
				break
			}
			gt.release()
			if _, body := h.goAwayAndBody(t, 1); body != "done: /slow" {
				t.Errorf("stream 1 body %q", body)
			}
			if !closedWithin(h.c, h.r, 5*time.Second) {
				t.Error("the connection stayed open after its last stream")
			}
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
			if rep := g.Report(); rep.InFlight != 1 || rep.Completed != 1 || rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}

// The drain delay keeps the listeners open and the requests served while the
// ready handler answers 503.
func TestDrainDelayKeepsServing(t *testing.T) {
	const delay = 500 * time.Millisecond
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true, DrainDelay: delay})
	ep := addServer(t, g, overH1, mux(g, newGate()))
	r := start(t, g)

	if code, body, err := ep.get("/ready"); err != nil || code != 200 || body != "serving\n" {
		t.Fatalf("ready while serving: %d %q %v", code, body, err)
	}
	began := time.Now()
	r.cancel()
	waitState(t, g, StateStopping)
	// A new connection is accepted and served during the delay.
	c, err := ep.dialRaw(t)
	if err != nil {
		t.Fatalf("new connection during the delay: %v", err)
	}
	if res, body := rawGet(t, c, bufio.NewReader(c), "/fast"); res.StatusCode != 200 || body != "fast" {
		t.Errorf("request during the delay: %d %q", res.StatusCode, body)
	}
	if code, body, err := ep.get("/ready"); err != nil || code != 503 || body != "stopping\n" {
		t.Errorf("ready during the delay: %d %q %v", code, body, err)
	}
	if s := g.Stats().State; s != StateStopping {
		t.Fatalf("state %v: the requests above took longer than the delay", s)
	}
	waitState(t, g, StateDraining)
	if d := time.Since(began); d < delay {
		t.Errorf("draining %v after the stop, before the delay of %v", d, delay)
	}
	eventually(t, func() bool { return ep.refused(t) }, "new connections are still accepted after the delay")
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if rep := g.Report(); rep.DrainDelay < delay || rep.Completed != 2 || rep.Forced {
		t.Errorf("report: %+v", rep)
	}
}

// At the shutdown timeout the connections still busy are closed and Run
// says so.
func TestShutdownTimeoutClosesTheRest(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tr := range []transport{overH1, overH2} {
		t.Run(string(tr), func(t *testing.T) {
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: timeout})
			gt := newGate()
			defer gt.release()
			ep := addServer(t, g, tr, mux(g, gt))
			r := start(t, g)

			res := ep.getAsync("/slow")
			gt.wait(t, 1)
			began := time.Now()
			r.cancel()
			err := r.wait(t)
			if d := time.Since(began); d < timeout || d > timeout+3*time.Second {
				t.Errorf("Run returned %v after the stop; the timeout is %v", d, timeout)
			}
			if !errors.Is(err, ErrShutdownTimeout) {
				t.Errorf("Run: %v, want ErrShutdownTimeout", err)
			}
			if got := await(t, res); got.err == nil {
				t.Errorf("the request cut at the deadline succeeded: %+v", got)
			}
			rep := g.Report()
			if !rep.TimedOut || rep.Forced || rep.ForcedClosed != 1 || rep.InFlight != 1 || rep.Completed != 0 || rep.Unfinished != 1 {
				t.Errorf("report: %+v", rep)
			}
			if s := g.Stats(); s.ForcedClosed != 1 {
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
		eventually(t, func() bool { return ep.refused(t) }, "%s still accepts connections", ep.tr)
	}
	gt.release()
	for i, res := range results {
		if got := await(t, res); got.err != nil || got.code != 200 {
			t.Errorf("%s: %+v", eps[i].tr, got)
		}
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if rep := g.Report(); rep.InFlight != int64(len(eps)) || rep.Completed != int64(len(eps)) || rep.TimedOut {
		t.Errorf("report: %+v", rep)
	}
}
