package http3

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/windhover/windhover/graceful"
)

// The lifecycle: a graceful.Group runs and drains http.Servers, and knows
// nothing of QUIC. So the Group is given one more http.Server, whose one
// listener stands for the HTTP/3 endpoint, and whose one connection, handed
// over when the drain begins, stands for its drain:
//
//   - the Group's Run serves that server, whose first Accept starts HTTP/3
//     (a failure to listen is a failure to serve, which stops the Group as
//     any server's would) and then waits;
//   - the Group's drain closes the listeners of its servers: Accept then
//     hands over an in-memory connection carrying one request, whose handler
//     is the HTTP/3 drain: GOAWAY on every connection, no new connection,
//     the streams in flight finish;
//   - the Group's Shutdown waits for that request as for any other, so the
//     drain lasts until the HTTP/3 streams are done, and counts in the
//     Group's report;
//   - at the deadline, or when the stop is forced, the Group closes the
//     connections left: the request's context ends, and every QUIC
//     connection still open gets CONNECTION_CLOSE.
//
// Seen from the Group, the HTTP/3 endpoint is one connection while it
// drains: in Stats.Conns then, and in Report.ForcedClosed if the deadline
// cut it.
func addDrain(g *graceful.Group, h *Server) {
	ln := &endpoint{h: h, closed: make(chan struct{})}
	g.Add(&http.Server{Handler: http.HandlerFunc(ln.drain)}, ln)
}

// endpoint is the HTTP/3 endpoint as a net.Listener of the Group.
type endpoint struct {
	h         *Server
	startOnce sync.Once
	startErr  error
	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex
	handed    bool // the drain's connection was handed over
}

// Accept starts HTTP/3 the first time, then waits for the drain.
func (e *endpoint) Accept() (net.Conn, error) {
	e.startOnce.Do(func() {
		started := make(chan error, 1)
		go e.h.serve(started)
		e.startErr = <-started
	})
	if e.startErr != nil {
		return nil, e.startErr
	}
	select {
	case <-e.closed:
	case err := <-e.h.serveErr:
		// Serving ended before any drain: it failed.
		if err == nil {
			err = net.ErrClosed
		}
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.handed {
		return nil, net.ErrClosed
	}
	e.handed = true
	server, client := net.Pipe()
	go drainRequest(client)
	return server, nil
}

// drainRequest sends the one request of the drain's connection, and reads
// the answer to its end, when the connection closes.
func drainRequest(c net.Conn) {
	defer c.Close()
	go func() {
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: http3\r\nConnection: close\r\n\r\n")
	}()
	_, _ = io.Copy(io.Discard, c)
}

// Close marks the beginning of the drain.
func (e *endpoint) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// Addr returns the UDP address of the HTTP/3 endpoint.
func (e *endpoint) Addr() net.Addr { return e.h.Addr() }

// drain is the handler of the drain's request: HTTP/3 drains, until its
// streams are done or the request's context ends (the Group's deadline, or
// a forced stop).
func (e *endpoint) drain(w http.ResponseWriter, r *http.Request) {
	e.h.shutdown(r.Context())
}

// idleLook is how often a drain looks for connections without requests, to
// close them: two looks in a row without one close it.
const idleLook = 50 * time.Millisecond

// shutdown sends GOAWAY on every connection, refuses new ones, waits for
// the streams in flight until ctx ends, closing each connection as its
// requests are done, then closes every connection left (CONNECTION_CLOSE)
// and the socket.
func (h *Server) shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		_ = h.h3.Shutdown(ctx)
		close(done)
	}()
	if h.ln != nil {
		_ = h.ln.Close()
	}
	t := time.NewTicker(idleLook)
	defer t.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-t.C:
			h.cs.closeIdle()
		}
	}
	<-h.served
	h.closeSocket()
}
