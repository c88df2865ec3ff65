package timeouts

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// endless writes 64 KiB at a time until a write fails or 100 MiB are out,
// and records the error and when it came.
type endless struct {
	mu      sync.Mutex
	err     error
	written int64
	elapsed time.Duration
	done    chan struct{}
	copy    bool  // through io.Copy (ReadFrom) instead of Write
	size    int64 // 100 MiB unless set
	piece   int   // bytes a Write: 64 KiB unless set
}

func newEndless(viaCopy bool) *endless {
	return &endless{done: make(chan struct{}, 4), copy: viaCopy, size: 100 << 20}
}

func (h *endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var n int64
	var err error
	if h.copy {
		n, err = io.Copy(w, io.LimitReader(zeros{}, h.size))
	} else {
		buf := make([]byte, cmp.Or(h.piece, 64<<10))
		for n < h.size && err == nil {
			var m int
			m, err = w.Write(buf)
			n += int64(m)
		}
	}
	h.mu.Lock()
	h.err, h.written, h.elapsed = err, n, time.Since(start)
	h.mu.Unlock()
	h.done <- struct{}{}
}

func (h *endless) result(t *testing.T) (int64, time.Duration, error) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not finish")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.written, h.elapsed, h.err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// stalledClient sends a GET and then reads nothing, with a small receive
// window, so that the server's writes soon block. rest reads the rest of the
// response body and returns what reading it ended with: over HTTP/1 an error
// or an early EOF (the server's chunked body cut short), over HTTP/2 the
// stream's reset.
//
// A small receive window makes the stall felt sooner, but also makes reading
// slow (a few tens of KB/s, delayed acknowledgements), so a test that reads
// the rest asks for the default window.
func stalledClient(t *testing.T, s *testserver.Server, smallWindow bool) (rest func() (int64, error)) {
	t.Helper()
	if !s.Proto.IsHTTP2() {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		if smallWindow {
			_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
		}
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		return func() (int64, error) {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return 0, err
			}
			defer res.Body.Close()
			return io.Copy(io.Discard, res.Body)
		}
	}
	tr := s.Transport.Clone()
	if smallWindow {
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}
	}
	if s.Proto.IsTLS() {
		tr.TLSClientConfig = &tls.Config{RootCAs: testserver.RootCAs(s.Server)}
	}
	t.Cleanup(tr.CloseIdleConnections)
	res, err := (&http.Client{Transport: tr}).Get(s.URL)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return func() (int64, error) {
		return io.Copy(io.Discard, res.Body)
	}
}

func TestStalledReaderCut(t *testing.T) {
	out := Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond}
	for _, viaCopy := range []bool{false, true} {
		for _, p := range testserver.All {
			if viaCopy && p.IsHTTP2() {
				continue // HTTP/2 writers have no ReadFrom: io.Copy writes
			}
			name := string(p) + "/write"
			if viaCopy {
				name = string(p) + "/copy"
			}
			t.Run(name, func(t *testing.T) {
				var v violations
				pol, err := New(Config{MinResponseDataRate: out, OnReject: v.record})
				require.NoError(t, err)
				h := newEndless(viaCopy)
				s := serve(t, pol, h, p)
				rest := stalledClient(t, s, true)

				written, elapsed, writeErr := h.result(t)
				require.Error(t, writeErr, "the handler's write failed")
				assert.Less(t, written, int64(10<<20), "long before the end")
				assert.Less(t, elapsed, 10*time.Second)
				assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)
				require.Len(t, v.all(), 1)
				assert.ErrorIs(t, v.all()[0], ErrMinResponseDataRate)
				_, err = rest()
				assert.Error(t, err, "the client sees the response cut short")
			})
		}
	}
}

func TestFastDownloadCompletes(t *testing.T) {
	// 100 MiB with no WriteTimeout and the default minimum rate.
	for _, viaCopy := range []bool{false, true} {
		for _, p := range testserver.All {
			if viaCopy && p.IsHTTP2() {
				continue // HTTP/2 writers have no ReadFrom: io.Copy writes
			}
			t.Run(string(p), func(t *testing.T) {
				pol, err := New(Config{})
				require.NoError(t, err)
				h := newEndless(viaCopy)
				s := serve(t, pol, h, p)
				res, err := s.Client.Get(s.URL)
				require.NoError(t, err)
				n, err := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				require.NoError(t, err)
				assert.EqualValues(t, 100<<20, n)
				_, _, writeErr := h.result(t)
				assert.NoError(t, writeErr)
				assert.Zero(t, pol.Stats().ResponseRateViolations)
			})
		}
	}
}

func TestSlowButSteadyReaderCompletes(t *testing.T) {
	// The client reads at four times the minimum: slow, but allowed.
	out := Rate{BytesPerSecond: 50_000, GracePeriod: 300 * time.Millisecond}
	pol, err := New(Config{MinResponseDataRate: out})
	require.NoError(t, err)
	const size = 100 << 10
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, size))
	}), h1)
	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	var got int
	buf := make([]byte, 2000)
	for {
		n, err := c.Read(buf)
		got += n
		if err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // 2,000 bytes per 10 ms at most
	}
	assert.Greater(t, got, size, "the whole response, header included")
	assert.Zero(t, pol.Stats().ResponseRateViolations)
}

func TestResponseRateOffPerRequest(t *testing.T) {
	// Server-sent events: the handler switches the rate off, and a client
	// that does not read for a while is not cut. The client's windows
	// (about 200 KB over HTTP/1, 64 KB over HTTP/2) fill early in the pause,
	// and their allowance at this rate is a fraction of it.
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 200 * time.Millisecond}
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinResponseDataRate: out})
			require.NoError(t, err)
			h := newEndless(false)
			h.size = 8 << 20
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, SetMinResponseDataRate(w, Off))
				h.ServeHTTP(w, r)
			}), p)
			// Small HTTP/2 windows cost no speed; small TCP windows do.
			rest := stalledClient(t, s, p.IsHTTP2())
			time.Sleep(1500 * time.Millisecond) // far past the allowance
			assert.Zero(t, pol.Stats().ResponseRateViolations)
			n, err := rest()
			require.NoError(t, err, "once the client reads, everything arrives")
			assert.EqualValues(t, 8<<20, n)
			written, _, writeErr := h.result(t)
			assert.NoError(t, writeErr)
			assert.EqualValues(t, 8<<20, written)
		})
	}
}

func TestHijackedNotPoliced(t *testing.T) {
	out := Rate{BytesPerSecond: 1e9, GracePeriod: 100 * time.Millisecond}
	pol, err := New(Config{MinRequestBodyDataRate: out, MinResponseDataRate: out})
	require.NoError(t, err)
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString(line)
		_ = brw.Flush()
	}), h1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	res, err := http.ReadResponse(c.R, nil)
	require.NoError(t, err)
	assert.Equal(t, 101, res.StatusCode)
	time.Sleep(500 * time.Millisecond) // the upgraded protocol idles
	c.Send(t, "ping\n")
	line, err := c.R.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
	assert.Zero(t, pol.Stats().ResponseRateViolations+pol.Stats().BodyRateViolations)
}

func TestKeepAliveAfterPolicedResponse(t *testing.T) {
	// The write deadline that bounds what net/http writes after a handler
	// returns must not reach the next request on the connection.
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 200 * time.Millisecond}
	pol, err := New(Config{MinResponseDataRate: out})
	require.NoError(t, err)
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond) // past the last deadline
		}
		_, _ = io.WriteString(w, "ok")
	}), h1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	time.Sleep(400 * time.Millisecond)
	c.Send(t, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "ok", body)
}

func TestDeadlineClearedForUnpolicedRoutes(t *testing.T) {
	// Only one route is policed. After it, the same keep-alive connection
	// carries a request to an unpoliced route that answers long after the
	// deadline that bounded the policed response's end: net/http cleared it.
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 200 * time.Millisecond}
	pol, err := New(Config{MinResponseDataRate: out})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/policed", pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "policed")
	})))
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		_, _ = io.WriteString(w, "plain")
	})
	s := testserver.Start(t, mux, h1, func(ts *httptest.Server) { require.NoError(t, pol.Apply(ts.Config)) })
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET /policed HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body := c.Response(t)
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "policed", body)
	c.Send(t, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body = c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "plain", body)
}

// TestPauseAfterWritesNotCut: a handler that pauses past the grace period
// before its last write is not cut: no write is in progress during the
// pause, whatever the writes before it. A few bytes that stay in net/http's
// buffer (untimed) come before a piece the client reads at once, or after it
// and a flush, so that the pause follows them directly: the end of such a
// write must leave nothing the alarm reads changed without the lock (the
// race detector's part).
func TestPauseAfterWritesNotCut(t *testing.T) {
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 200 * time.Millisecond}
	const size = 64 << 10
	for _, tc := range []struct {
		name   string
		before func(w http.ResponseWriter)
	}{
		{"buffered then timed", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, "a")
			_, _ = w.Write(make([]byte, size))
		}},
		{"timed, flushed, then buffered", func(w http.ResponseWriter) {
			_, _ = w.Write(make([]byte, size))
			_ = http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "a")
		}},
	} {
		for _, p := range testserver.All {
			t.Run(tc.name+"/"+string(p), func(t *testing.T) {
				pol, err := New(Config{MinResponseDataRate: out})
				require.NoError(t, err)
				s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					tc.before(w)
					time.Sleep(2 * out.GracePeriod)
					_, _ = io.WriteString(w, "z")
				}), p)
				res, err := s.Client.Get(s.URL)
				require.NoError(t, err)
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				require.NoError(t, err)
				assert.Len(t, body, size+2)
				assert.Zero(t, pol.Stats().ResponseRateViolations)
			})
		}
	}
}
