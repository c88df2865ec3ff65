package http3_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	qhttp3 "github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/quicvarint"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/http3"
)

// The stop drains HTTP/3 with the TCP servers: the requests in flight
// finish, the group waits for them, and new connections are refused.
func TestDrainFinishesStreams(t *testing.T) {
	entered := make(chan struct{}, 4)
	cfg := windhover.Config{Shutdown: graceful.Config{ShutdownTimeout: 20 * time.Second}}
	st := serve(t, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			time.Sleep(700 * time.Millisecond)
			_, _ = io.WriteString(w, "finished")
		})
	})
	c := st.client(t)
	if code, _ := get(t, c, st.url("", "/")); code != http.StatusOK {
		t.Fatal(code)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			code, body := get(t, c, st.url("", "/slow"))
			if code != http.StatusOK || body != "finished" {
				t.Errorf("a request in flight at the stop: %d %q", code, body)
			}
		})
	}
	<-entered
	<-entered
	stopped := make(chan error, 1)
	began := time.Now()
	go func() { stopped <- st.stop(t) }()
	waitFor(t, "the drain", func() bool { return st.ws.Group().Stats().State >= graceful.StateDraining })

	// A new connection during the drain is refused.
	late := st.client(t)
	late.Timeout = 3 * time.Second
	if res, err := late.Get(st.url("", "/")); err == nil {
		res.Body.Close()
		t.Errorf("a new connection was served during the drain: %s", res.Status)
	}

	wg.Wait()
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	took := time.Since(began)
	rep := st.ws.Group().Report()
	t.Logf("stopped in %v: %+v", took.Round(time.Millisecond), rep)
	if rep.Completed < 2 || rep.TimedOut || rep.Unfinished != 0 {
		t.Errorf("report: %d completed, timed out %v, %d unfinished; want the 2 HTTP/3 requests completed", rep.Completed, rep.TimedOut, rep.Unfinished)
	}
	if s := st.h3.Stats(); s.Open != 0 {
		t.Errorf("%d QUIC connections open after the stop", s.Open)
	}
}

// At the shutdown deadline the streams still running are cut: every QUIC
// connection left gets CONNECTION_CLOSE, and Run says the deadline passed.
func TestDrainDeadlineClosesConnections(t *testing.T) {
	ctxDone := make(chan struct{})
	entered := make(chan struct{})
	cfg := windhover.Config{Shutdown: graceful.Config{ShutdownTimeout: 500 * time.Millisecond}}
	st := serve(t, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("/forever", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			close(entered)
			<-r.Context().Done()
			close(ctxDone)
		})
	})
	res, err := st.client(t).Get(st.url("", "/forever"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	<-entered
	began := time.Now()
	err = st.stop(t)
	if !errors.Is(err, graceful.ErrShutdownTimeout) {
		t.Errorf("Run: %v, want ErrShutdownTimeout", err)
	}
	took := time.Since(began)
	if took > 10*time.Second {
		t.Errorf("the stop took %v with a 500 ms deadline", took)
	}
	select {
	case <-ctxDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end at the deadline")
	}
	if _, err := io.Copy(io.Discard, res.Body); err == nil {
		t.Error("the response ended cleanly: not cut")
	} else {
		t.Logf("the client's read after the deadline: %v", err)
	}
	if rep := st.ws.Group().Report(); !rep.TimedOut || rep.ForcedClosed < 1 {
		t.Errorf("report: %+v, want timed out with the HTTP/3 endpoint closed", rep)
	}
}

// A client that keeps its connection open after GOAWAY, with no request
// on it, does not hold the drain: the server closes the connection once its
// streams are done, as net/http's Shutdown closes idle connections.
func TestDrainClosesIdleConnections(t *testing.T) {
	cfg := windhover.Config{Shutdown: graceful.Config{ShutdownTimeout: 20 * time.Second}}
	st := serve(t, cfg, http3.Config{}, nil)
	// A bare QUIC connection speaking "h3" that sends nothing and ignores
	// the server's GOAWAY: an idle HTTP/3 client.
	qc, err := quic.DialAddr(context.Background(), st.udp, &tls.Config{RootCAs: st.ca.Pool(), NextProtos: []string{qhttp3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	goaway := make(chan uint64, 1)
	go readGoaway(qc, goaway)
	waitFor(t, "the connection to be served", func() bool { return st.h3.Stats().Open == 1 && st.h3.Stats().Handshaking == 0 })
	began := time.Now()
	if err := st.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	took := time.Since(began)
	t.Logf("stopped in %v", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("an idle HTTP/3 connection held the drain for %v", took)
	}
	select {
	case <-qc.Context().Done():
		t.Logf("the idle connection: %v", context.Cause(qc.Context()))
	case <-time.After(5 * time.Second):
		t.Error("the idle connection was not closed")
	}
	select {
	case id := <-goaway:
		t.Logf("GOAWAY with stream ID %d", id)
	case <-time.After(5 * time.Second):
		t.Error("no GOAWAY on the control stream")
	}
}

// readGoaway reads the server's control stream and sends the stream ID of
// its GOAWAY frame, if one comes.
func readGoaway(qc *quic.Conn, goaway chan<- uint64) {
	str, err := qc.AcceptUniStream(context.Background())
	if err != nil {
		return
	}
	r := bufio.NewReader(str)
	if typ, err := quicvarint.Read(r); err != nil || typ != 0 { // a control stream
		return
	}
	for {
		typ, err := quicvarint.Read(r)
		if err != nil {
			return
		}
		n, err := quicvarint.Read(r)
		if err != nil {
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		if typ == 0x07 { // GOAWAY
			id, _, err := quicvarint.Parse(payload)
			if err == nil {
				goaway <- id
			}
			return
		}
	}
}
