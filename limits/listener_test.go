package limits

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// holdConns dials n connections and waits until the server holds them all.
func holdConns(t *testing.T, lim *Limiter, s *testserver.Server, n int) []*testserver.Conn {
	t.Helper()
	conns := make([]*testserver.Conn, n)
	for i := range conns {
		conns[i] = dial(t, s.Addr())
	}
	eventually(t, func() bool { return lim.Stats().ActiveConnections == int64(n) },
		"server holds %d connections, want %d", lim.Stats().ActiveConnections, n)
	return conns
}

func TestConnectionLimitCloses(t *testing.T) {
	checkNoLeaks(t)
	var refused []error
	var mu sync.Mutex
	lim, err := New(Config{MaxConcurrentConnections: 2, OnReject: func(r *http.Request, err error) {
		mu.Lock()
		refused = append(refused, err)
		mu.Unlock()
	}})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	held := holdConns(t, lim, s, 2)

	c := dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.True(t, c.ClosedByPeer(t), "closed without a reply, as Kestrel does")
	eventually(t, func() bool { return lim.Stats().Rejected[ReasonConnectionLimit] == 1 }, "not counted")
	mu.Lock()
	require.Len(t, refused, 1)
	var le *Error
	require.ErrorAs(t, refused[0], &le)
	assert.ErrorIs(t, refused[0], ErrConnectionLimit)
	assert.NotNil(t, le.Addr)
	assert.EqualValues(t, 2, le.Limit)
	mu.Unlock()

	// A held connection is served normally.
	held[0].Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body := held[0].Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "hello\n", body)

	// Closing one frees its slot.
	held[1].Close()
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 1 }, "slot not released")
	c = dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.EqualValues(t, 3, lim.Stats().AcceptedConnections)
}

func TestConnectionLimitResponds503(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionOverflow: OverflowRespond503})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	holdConns(t, lim, s, 1)

	c := dial(t, s.Addr())
	c.Send(t, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	res, body := c.Response(t)
	assert.Equal(t, 503, res.StatusCode)
	assert.Equal(t, "Service Unavailable\n", body)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))

	// An HTTP/2 prior-knowledge client is closed, not sent HTTP/1 bytes.
	c = dial(t, s.Addr())
	c.Send(t, string(http2Preface))
	rest, err := io.ReadAll(c.R)
	assert.NoError(t, err, "closed, not timed out")
	assert.Empty(t, rest, "not a byte of HTTP/1")

	assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonConnectionLimit])
}

func TestConnectionLimit503ClosesTLS(t *testing.T) {
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionOverflow: OverflowRespond503})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1tls)
	held := tlsDial(t, s) // completes the handshake: the server holds it
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 1 }, "not held")
	_, err = tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true})
	require.Error(t, err, "the handshake of a refused TLS client fails")
	held.Close()
}

func TestConnectionQueue(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionQueueLength: 1, ConnectionQueueTimeout: 5 * time.Second})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	held := holdConns(t, lim, s, 1)

	waiting := dial(t, s.Addr())
	waiting.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, func() bool { return lim.Stats().QueuedConnections == 1 }, "not queued")

	full := dial(t, s.Addr())
	assert.True(t, full.ClosedByPeer(t), "the queue holds one")
	eventually(t, func() bool { return lim.Stats().Rejected[ReasonConnectionQueueFull] == 1 }, "not counted")

	held[0].Close()
	res, body := waiting.Response(t)
	assert.Equal(t, 200, res.StatusCode, "served once a slot freed")
	assert.Equal(t, "hello\n", body)
	assert.Zero(t, lim.Stats().QueuedConnections)
}

func TestConnectionQueueTimeout(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{
		MaxConcurrentConnections: 1,
		ConnectionQueueLength:    4,
		ConnectionQueueTimeout:   300 * time.Millisecond,
		ConnectionOverflow:       OverflowRespond503,
	})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	holdConns(t, lim, s, 1)

	start := time.Now()
	c := dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := c.Response(t)
	waited := time.Since(start)
	assert.Equal(t, 503, res.StatusCode, "the overflow action after the wait")
	assert.GreaterOrEqual(t, waited, 250*time.Millisecond, "it waited in the queue")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonConnectionQueueTimeout])
	assert.Zero(t, lim.Stats().QueuedConnections)
}

func TestConnectionQueueOrder(t *testing.T) {
	lim, err := New(Config{MaxConcurrentConnections: 1, ConnectionQueueLength: 3})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	held := holdConns(t, lim, s, 1)
	var queued []*testserver.Conn
	for i := range 3 {
		c := dial(t, s.Addr())
		c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		queued = append(queued, c)
		eventually(t, func() bool { return lim.Stats().QueuedConnections == int64(i+1) }, "not queued")
	}
	held[0].Close()
	// Each closes after its one response, freeing the slot for the next,
	// oldest first.
	for i, c := range queued {
		res, _ := c.Response(t)
		assert.Equal(t, 200, res.StatusCode, "queued connection %d", i)
	}
}

func TestListenerCloseIsPromptAndIdempotent(t *testing.T) {
	for _, cfg := range []Config{
		{MaxConcurrentConnections: 1},
		{MaxConcurrentConnections: 1, ConnectionQueueLength: 2},
	} {
		checkNoLeaks(t)
		lim, err := New(cfg)
		require.NoError(t, err)
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ln := lim.Listener(inner)
		assert.Equal(t, inner, ln.(interface{ Unwrap() net.Listener }).Unwrap())
		done := make(chan error, 1)
		go func() {
			_, err := ln.Accept()
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, ln.Close())
		require.NoError(t, ln.Close(), "a second Close is harmless")
		select {
		case err := <-done:
			assert.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("Accept did not return after Close")
		}
		_, err = ln.Accept()
		assert.Error(t, err)
	}
}

func TestHijackedConnectionKeepsItsSlot(t *testing.T) {
	// Hijacked without an upgrade handler: the connection stays in the pool
	// until it is closed.
	release := make(chan struct{})
	lim := MaxConcurrentConnections(1)
	s := serve(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		go func() {
			<-release
			c.Close()
		}()
	}), h1)
	s.Listener.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := lim.Listener(inner)
	go func() { _ = s.Config.Serve(ln) }()
	defer ln.Close()

	c := dial(t, inner.Addr().String())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 1 }, "not held")
	time.Sleep(50 * time.Millisecond) // let the hijack happen
	assert.EqualValues(t, 1, lim.Stats().ActiveConnections)
	d := dial(t, inner.Addr().String())
	assert.True(t, d.ClosedByPeer(t), "the hijacked connection still holds the only slot")
	close(release)
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 0 }, "slot not released")
}

func TestConnectionLimitUnderLoad(t *testing.T) {
	checkNoLeaks(t)
	const max = 8
	var active, peak atomic.Int64
	lim, err := New(Config{MaxConcurrentConnections: max})
	require.NoError(t, err)
	s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := lim.Stats().ActiveConnections
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		active.Add(1)
		time.Sleep(time.Millisecond)
		active.Add(-1)
		_, _ = io.WriteString(w, "ok")
	}), h1)

	const clients = 300
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
			if err != nil {
				refused.Add(1)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			b, _ := io.ReadAll(c)
			if len(b) > 0 {
				ok.Add(1)
			} else {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	st := lim.Stats()
	assert.LessOrEqual(t, peak.Load(), int64(max), "never more than the limit at once")
	assert.EqualValues(t, clients, ok.Load()+refused.Load())
	assert.Positive(t, ok.Load())
	assert.EqualValues(t, ok.Load(), st.AcceptedConnections)
	assert.EqualValues(t, refused.Load(), st.Rejected[ReasonConnectionLimit])
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 0 }, "slots not all released: %d", lim.Stats().ActiveConnections)
}

func TestConnKeepsSendfileAndHalfClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := MaxConcurrentConnections(0).Listener(inner)
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := ln.Accept()
	require.NoError(t, err)
	_, ok := c.(io.ReaderFrom)
	assert.True(t, ok, "ReadFrom, for sendfile")
	cw, ok := c.(interface{ CloseWrite() error })
	require.True(t, ok, "CloseWrite, for net/http's lingering close")
	n, err := c.(io.ReaderFrom).ReadFrom(io.LimitReader(zeros{}, 1<<20))
	require.NoError(t, err)
	assert.EqualValues(t, 1<<20, n)
	assert.NoError(t, cw.CloseWrite())
	assert.IsType(t, &net.TCPConn{}, c.(interface{ NetConn() net.Conn }).NetConn())
	require.NoError(t, c.Close())
	assert.Error(t, c.Close(), "a second Close reports the closed connection")
	assert.Zero(t, MaxConcurrentConnections(0).Stats().ActiveConnections)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestApplyLimitsConnectionsWithoutListener(t *testing.T) {
	checkNoLeaks(t)
	var userStates atomic.Int32
	lim := MaxConcurrentConnections(1)
	srv := &http.Server{
		Handler:   hello,
		ConnState: func(net.Conn, http.ConnState) { userStates.Add(1) },
	}
	require.NoError(t, lim.Apply(srv))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	a := dial(t, ln.Addr().String())
	a.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := a.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	b := dial(t, ln.Addr().String())
	b.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.True(t, b.ClosedByPeer(t), "over the limit")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonConnectionLimit])
	assert.Positive(t, userStates.Load(), "the user's hook still runs")

	a.Close()
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 0 }, "not released")
	c := dial(t, ln.Addr().String())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
}

func TestApplyIgnoresListenerConnections(t *testing.T) {
	// With both Apply and Listener, each connection is counted once.
	lim, err := New(Config{MaxConcurrentConnections: 1})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1tls)
	code, _ := s.Get(t, "/", nil)
	assert.Equal(t, 200, code)
	assert.EqualValues(t, 1, lim.Stats().AcceptedConnections)
	assert.EqualValues(t, 1, lim.Stats().ActiveConnections)
}

func TestAcceptErrorPassesThrough(t *testing.T) {
	boom := errors.New("boom")
	ln := MaxConcurrentConnections(1).Listener(failingListener{boom})
	_, err := ln.Accept()
	assert.ErrorIs(t, err, boom)
}

type failingListener struct{ err error }

func (f failingListener) Accept() (net.Conn, error) { return nil, f.err }
func (failingListener) Close() error                { return nil }
func (failingListener) Addr() net.Addr              { return &net.TCPAddr{} }
