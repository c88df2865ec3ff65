package timeouts

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// The tests of a response's banked credit: a client reads fast, far ahead
// of the minimum rate, and then stops, or goes on at a pace above it.

// cutTimes records when OnReject reported each violation.
type cutTimes struct {
	mu    sync.Mutex
	times []time.Time
	errs  []error
}

func (c *cutTimes) record(_ *http.Request, err error) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// first waits up to timeout for the first violation and returns when it
// was reported.
func (c *cutTimes) first(t *testing.T, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		if len(c.times) > 0 {
			at, err := c.times[0], c.errs[0]
			c.mu.Unlock()
			assert.ErrorIs(t, err, ErrMinResponseDataRate)
			return at
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no violation within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getResponse sends a GET to s and returns its body, read over a raw
// connection (HTTP/1.1) or with the Go client (HTTP/2), as the test says. A
// small window (64 KiB: SO_RCVBUF over HTTP/1.1, the stream's and
// connection's flow-control windows over HTTP/2) keeps what the client has
// buffered small, so that the server's writes soon wait for its reads, and
// still lets it read fast.
//
// Over loopback, whose segments are 64 KiB, a client reading from a 64 KiB
// TCP buffer lets the server send again only in lumps of a segment, once it
// has read that much: a client of these tests reads fast enough, in pieces,
// for those lumps to come well within the grace period and a write's n/rate.
func getResponse(t *testing.T, s *testserver.Server, smallWindow bool) io.Reader {
	t.Helper()
	if !s.Proto.IsHTTP2() {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		if smallWindow {
			require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
		}
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReaderSize(c, 64<<10), nil)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		return res.Body
	}
	tr := s.Transport.Clone()
	if smallWindow {
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}
	}
	t.Cleanup(tr.CloseIdleConnections)
	res, err := (&http.Client{Transport: tr}).Get(s.URL)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	require.Equal(t, 200, res.StatusCode)
	return res.Body
}

// TestResponseBurstThenStallCutWithinGrace: a client reads 4 MiB at once
// (some 40 s of the minimum rate) and then stops reading. A running deadline
// that banked every byte would hold the connection some 40 s; the bounded
// one cuts it about a grace period (and one write's n/rate) after the
// client's last read, once the buffers between them have filled.
func TestResponseBurstThenStallCutWithinGrace(t *testing.T) {
	out := Rate{BytesPerSecond: 100_000, GracePeriod: 300 * time.Millisecond}
	const burst = 4 << 20
	for _, p := range []testserver.Proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			var cuts cutTimes
			pol, err := New(Config{MinResponseDataRate: out, OnReject: cuts.record})
			require.NoError(t, err)
			h := newEndless(false)
			h.piece = 8 << 10 // n/rate: 82 ms
			s := serve(t, pol, h, p)
			body := getResponse(t, s, false)
			start := time.Now()
			n, err := io.CopyN(io.Discard, body, burst)
			require.NoError(t, err)
			require.EqualValues(t, burst, n)
			last := time.Now()
			t.Logf("read %d bytes in %v", n, last.Sub(start))

			after := cuts.first(t, 15*time.Second).Sub(last)
			t.Logf("cut %v after the last read", after)
			assert.Less(t, after, 3*time.Second, "about a grace period, not the 40 s the burst was worth")
			written, _, writeErr := h.result(t)
			assert.Error(t, writeErr, "the handler's write failed")
			assert.Less(t, written, int64(50<<20))
			assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)
		})
	}
}

// TestResponseSteadyAfterBurstNotCut: a client that reads a burst and then
// goes on at eight times the minimum, in small reads, for several grace
// periods, is never cut: the bound takes nothing from a client that keeps the
// rate.
func TestResponseSteadyAfterBurstNotCut(t *testing.T) {
	out := Rate{BytesPerSecond: 25_000, GracePeriod: time.Second}
	const burst = 1 << 20
	const steady = 80 << 13 // 640 KiB: at 200 KB/s some 3 s, well past what the 64 KiB windows hold
	for _, p := range []testserver.Proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinResponseDataRate: out})
			require.NoError(t, err)
			h := newEndless(false)
			h.piece, h.size = 8<<10, burst+steady
			s := serve(t, pol, h, p)
			body := getResponse(t, s, true)
			n, err := io.CopyN(io.Discard, body, burst)
			require.NoError(t, err)
			buf := make([]byte, 10_000)
			start := time.Now()
			for {
				time.Sleep(50 * time.Millisecond) // 200 KB/s at most
				m, err := io.ReadFull(body, buf)
				n += int64(m)
				if err != nil {
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
					break
				}
			}
			took := time.Since(start)
			assert.EqualValues(t, burst+steady, n, "the whole response")
			assert.Greater(t, took, 2*out.GracePeriod, "read at the client's pace, several grace periods")
			written, _, writeErr := h.result(t)
			assert.NoError(t, writeErr)
			assert.EqualValues(t, burst+steady, written)
			assert.Zero(t, pol.Stats().ResponseRateViolations)
		})
	}
}

// TestResponseLargeWriteAllowedItsTime: a large write may take its
// n/rate (timed in 64 KiB chunks, each allowed its own). A client that
// reads nothing is cut no sooner than a chunk's 64 KiB/rate, 655 ms here,
// not after the 100 ms grace period; one that reads a 512 KiB write at four
// times the rate, for many grace periods, is not cut.
func TestResponseLargeWriteAllowedItsTime(t *testing.T) {
	out := Rate{BytesPerSecond: 100_000, GracePeriod: 100 * time.Millisecond}
	const size = 512 << 10
	chunk := out.allowance(chunkSize)
	for _, p := range []testserver.Proto{h1, h2c} {
		t.Run(string(p)+"/stalled", func(t *testing.T) {
			var cuts cutTimes
			pol, err := New(Config{MinResponseDataRate: out, OnReject: cuts.record})
			require.NoError(t, err)
			began := make(chan time.Time, 1)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				began <- time.Now()
				_, _ = w.Write(make([]byte, size))
			}), p)
			stalledClient(t, s, true)
			start := <-began
			after := cuts.first(t, 10*time.Second).Sub(start)
			t.Logf("cut %v after the write began", after)
			assert.GreaterOrEqual(t, after, chunk-20*time.Millisecond, "a write of n bytes may take n/rate")
			assert.Less(t, after, chunk+out.GracePeriod+1500*time.Millisecond)
		})
		t.Run(string(p)+"/read at four times the rate", func(t *testing.T) {
			pol, err := New(Config{MinResponseDataRate: out})
			require.NoError(t, err)
			done := make(chan error, 1)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := w.Write(make([]byte, size))
				done <- err
			}), p)
			body := getResponse(t, s, true)
			buf := make([]byte, 20_000)
			var n int64
			start := time.Now()
			for {
				time.Sleep(50 * time.Millisecond) // 400 KB/s at most
				m, err := io.ReadFull(body, buf)
				n += int64(m)
				if err != nil {
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
					break
				}
			}
			took := time.Since(start)
			assert.EqualValues(t, size, n)
			assert.Greater(t, took, 10*out.GracePeriod, "the write took many grace periods")
			assert.NoError(t, <-done)
			assert.Zero(t, pol.Stats().ResponseRateViolations)
		})
	}
}
