package timeouts

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

func TestSlowBodyCutAfterGrace(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			var v violations
			pol, err := New(Config{MinRequestBodyDataRate: testRate, OnReject: v.record})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, h, p)

			// Half the rate: 1,000 bytes every 100 ms.
			code := sendTrickle(t, s, &trickle{chunk: 1000, total: 100_000, interval: 100 * time.Millisecond})
			assert.Equal(t, http.StatusRequestTimeout, code)
			elapsed, readErr := h.result(t)
			assert.ErrorIs(t, readErr, ErrMinRequestBodyDataRate)
			assert.ErrorIs(t, readErr, os.ErrDeadlineExceeded, "the cut Read's own error is kept")
			var re *RateError
			require.ErrorAs(t, readErr, &re)
			assert.Equal(t, testRate, re.Rate)
			assert.GreaterOrEqual(t, elapsed, testRate.GracePeriod, "not before the grace period")
			assert.Less(t, elapsed, 3*time.Second, "soon after it")
			assert.EqualValues(t, 1, pol.Stats().BodyRateViolations)
			require.Len(t, v.all(), 1)
			assert.ErrorIs(t, v.all()[0], ErrMinRequestBodyDataRate)
		})
	}
}

func TestBodyAtTwiceTheRateCompletes(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: testRate})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, h, p)
			// 4,000 bytes every 100 ms: twice the rate, for a second.
			code := sendTrickle(t, s, &trickle{chunk: 4000, total: 40_000, interval: 100 * time.Millisecond})
			assert.Equal(t, 200, code)
			_, readErr := h.result(t)
			assert.NoError(t, readErr)
			assert.Zero(t, pol.Stats().BodyRateViolations)
		})
	}
}

func TestHandlerNotChargedForItsOwnPauses(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: testRate})
			require.NoError(t, err)
			var total int
			var readErr error
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				buf := make([]byte, 1000)
				for {
					n, err := r.Body.Read(buf)
					total += n
					if err != nil {
						if err != io.EOF {
							readErr = err
						}
						break
					}
					// Much longer than the grace period, between every
					// read: over the whole request, far below the rate.
					time.Sleep(2 * testRate.GracePeriod)
				}
				_, _ = io.WriteString(w, "ok")
			}), p)
			code := sendTrickle(t, s, &trickle{chunk: 1000, total: 3000, interval: 50 * time.Millisecond})
			assert.Equal(t, 200, code)
			assert.NoError(t, readErr)
			assert.Equal(t, 3000, total)
		})
	}
}

func TestHTTP2BodyCutLeavesOtherStreams(t *testing.T) {
	for _, p := range []testserver.Proto{h2, h2c} {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: testRate})
			require.NoError(t, err)
			s := serve(t, pol, newReadAll(), p)
			var reused []bool
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}

			slow, err := http.NewRequest("POST", s.URL, &trickle{chunk: 500, total: 100_000, interval: 100 * time.Millisecond})
			require.NoError(t, err)
			slow = slow.WithContext(httptrace.WithClientTrace(slow.Context(), trace))
			code, _ := s.Do(t, slow)
			assert.Equal(t, http.StatusRequestTimeout, code)

			fast, err := http.NewRequest("GET", s.URL, nil)
			require.NoError(t, err)
			fast = fast.WithContext(httptrace.WithClientTrace(fast.Context(), trace))
			code, body := s.Do(t, fast)
			assert.Equal(t, 200, code)
			assert.Equal(t, "0", body)
			assert.Equal(t, []bool{false, true}, reused, "the same connection serves on")
		})
	}
}

func TestHTTP1BodyCutClosesConnection(t *testing.T) {
	pol, err := New(Config{MinRequestBodyDataRate: testRate})
	require.NoError(t, err)
	s := serve(t, pol, newReadAll(), h1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	res, body := c.Response(t)
	assert.Equal(t, 408, res.StatusCode)
	assert.Equal(t, "Request Timeout\n", body)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))
}

func TestHandlerAnswerAfterCutStands(t *testing.T) {
	pol, err := New(Config{MinRequestBodyDataRate: testRate})
	require.NoError(t, err)
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if errors.Is(err, ErrMinRequestBodyDataRate) {
			http.Error(w, "too slow", http.StatusBadRequest)
		}
	}), h1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	res, body := c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "too slow\n", body)
}

func TestBodyRateOffPerRequest(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: testRate})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := SetMinRequestBodyDataRate(w, Off); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				h.ServeHTTP(w, r)
			}), p)
			code := sendTrickle(t, s, &trickle{chunk: 100, total: 1000, interval: 100 * time.Millisecond})
			assert.Equal(t, 200, code, "a streaming upload far below the rate completes")
			elapsed, readErr := h.result(t)
			assert.NoError(t, readErr)
			assert.Greater(t, elapsed, 3*testRate.GracePeriod)
		})
	}
}

func TestBodyRateReplacedDuringBody(t *testing.T) {
	pol, err := New(Config{MinRequestBodyDataRate: testRate})
	require.NoError(t, err)
	var readErr error
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 100)
		_, _ = io.ReadFull(r.Body, buf)
		// Halfway through, the handler raises the minimum beyond what the
		// client sends.
		_ = SetMinRequestBodyDataRate(w, Rate{BytesPerSecond: 1e9, GracePeriod: 100 * time.Millisecond})
		_, readErr = io.Copy(io.Discard, r.Body)
	}), h1)
	code := sendTrickle(t, s, &trickle{chunk: 4000, total: 100_000, interval: 100 * time.Millisecond})
	assert.Equal(t, 408, code)
	assert.ErrorIs(t, readErr, ErrMinRequestBodyDataRate)
}

func TestSetRateOutsidePolicy(t *testing.T) {
	assert.ErrorIs(t, SetMinRequestBodyDataRate(httptestRecorder(), Off), ErrNotPoliced)
	assert.ErrorIs(t, SetMinResponseDataRate(httptestRecorder(), Off), ErrNotPoliced)
	assert.ErrorContains(t, SetMinResponseDataRate(httptestRecorder(), Rate{GracePeriod: -1}), "GracePeriod")
}

// burstRate is the rate of the tests of banked credit: a 20 KB burst is
// worth 20 s of it, some seventy grace periods.
var burstRate = Rate{BytesPerSecond: 1000, GracePeriod: 300 * time.Millisecond}

// TestBurstThenStallCutWithinGrace sends 20 KB at once and then nothing: an
// average since the start would hold the connection 20 s; the bounded credit
// cuts it one grace period after the Read that returned the last bytes.
func TestBurstThenStallCutWithinGrace(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			var v violations
			pol, err := New(Config{MinRequestBodyDataRate: burstRate, OnReject: v.record})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, h, p)
			body := newPaced(true, []step{{0, 20_000}})
			t.Cleanup(func() { body.Close() })

			code := sendBody(t, s, body, 100_000, 32<<10)
			assert.Equal(t, http.StatusRequestTimeout, code)
			elapsed, readErr := h.result(t)
			assert.ErrorIs(t, readErr, ErrMinRequestBodyDataRate)
			assert.GreaterOrEqual(t, elapsed, burstRate.GracePeriod, "not before the grace period")
			assert.Less(t, elapsed, 3*time.Second, "within about a grace period of the burst, not 20 s")
			var re *RateError
			require.ErrorAs(t, readErr, &re)
			assert.EqualValues(t, 20_000, re.Bytes)
			assert.EqualValues(t, 1, pol.Stats().BodyRateViolations)
			assert.Len(t, v.all(), 1)
		})
	}
}

// TestHTTP1BurstThenStallClosesConnection checks the raw answer: 408 and
// the connection closed, soon after the grace period.
func TestHTTP1BurstThenStallClosesConnection(t *testing.T) {
	pol, err := New(Config{MinRequestBodyDataRate: burstRate})
	require.NoError(t, err)
	s := serve(t, pol, newReadAll(), h1)
	c := testserver.Dial(t, s.Addr())
	start := time.Now()
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("a", 20_000))
	res, body := c.Response(t)
	assert.Less(t, time.Since(start), 3*time.Second, "not 20 s")
	assert.Equal(t, 408, res.StatusCode)
	assert.Equal(t, "Request Timeout\n", body)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))
}

// TestDefaultRateBurstThenStall is the attack at Kestrel's defaults (240
// bytes per second after a 5 s grace period): a client that announces 30 MB,
// sends 1 MB at once and then nothing. Measured as an average since the
// body's start, as Kestrel measures it, the megabyte would buy over an hour;
// with the credit bounded to a grace period ahead of the rate, the
// connection gets 408 and is closed within a few grace periods.
func TestDefaultRateBurstThenStall(t *testing.T) {
	if testing.Short() {
		t.Skip("takes one default grace period, 5 s")
	}
	t.Parallel()
	pol, err := New(Config{})
	require.NoError(t, err)
	s := serve(t, pol, newReadAll(), h1)
	c := testserver.Dial(t, s.Addr())
	start := time.Now()
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\n\r\n"+strings.Repeat("a", 1<<20))
	res, body := c.Response(t)
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, 5*time.Second, "not before the grace period")
	assert.Less(t, elapsed, 15*time.Second, "not the hour the megabyte would buy on average")
	assert.Equal(t, 408, res.StatusCode)
	assert.Equal(t, "Request Timeout\n", body)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))
	assert.EqualValues(t, 1, pol.Stats().BodyRateViolations)
}

// TestSteadyAfterBurstNotCut sends a burst and then twice the rate: the
// credit is bounded, but a client that keeps the rate never runs out of it.
func TestSteadyAfterBurstNotCut(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: burstRate})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, h, p)
			// 20 KB, then 100 bytes every 50 ms for 2 s.
			body := newPaced(false, []step{{0, 20_000}}, every(50*time.Millisecond, 100, 40))
			total := body.total()
			code := sendBody(t, s, body, total, 32<<10)
			assert.Equal(t, 200, code)
			elapsed, readErr := h.result(t)
			assert.NoError(t, readErr)
			assert.Greater(t, elapsed, 3*burstRate.GracePeriod, "enforced for several grace periods")
			assert.Zero(t, pol.Stats().BodyRateViolations)
		})
	}
}

// TestBriefDipNotCut sends four times the rate, then half the rate for half a
// grace period, then four times again: the average over any grace period stays
// above the minimum, and the client is not cut.
func TestBriefDipNotCut(t *testing.T) {
	dipRate := Rate{BytesPerSecond: 1000, GracePeriod: 500 * time.Millisecond}
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: dipRate})
			require.NoError(t, err)
			h := newReadAll()
			s := serve(t, pol, h, p)
			fast := every(50*time.Millisecond, 200, 20) // 4,000 B/s for 1 s
			dip := every(50*time.Millisecond, 25, 5)    // 500 B/s for 250 ms
			body := newPaced(false, fast, dip, fast)
			code := sendBody(t, s, body, body.total(), 32<<10)
			assert.Equal(t, 200, code)
			_, readErr := h.result(t)
			assert.NoError(t, readErr)
			assert.Zero(t, pol.Stats().BodyRateViolations)
		})
	}
}

// TestLoweredRateBanksNoMore lowers the rate after a burst: the bytes already
// read are worth more time at the new rate, but no more than its grace period.
func TestLoweredRateBanksNoMore(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{MinRequestBodyDataRate: burstRate})
			require.NoError(t, err)
			type result struct {
				err     error
				elapsed time.Duration
			}
			done := make(chan result, 1)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadFull(r.Body, make([]byte, 20_000)); err != nil {
					done <- result{err: err}
					return
				}
				// At 10 B/s, 20 KB would be worth more than half an hour.
				if err := SetMinRequestBodyDataRate(w, Rate{BytesPerSecond: 10, GracePeriod: burstRate.GracePeriod}); err != nil {
					done <- result{err: err}
					return
				}
				start := time.Now()
				_, err := io.Copy(io.Discard, r.Body)
				done <- result{err, time.Since(start)}
			}), p)
			body := newPaced(true, []step{{0, 20_000}})
			t.Cleanup(func() { body.Close() })
			code := sendBody(t, s, body, 100_000, 32<<10)
			assert.Equal(t, http.StatusRequestTimeout, code)
			res := <-done
			assert.ErrorIs(t, res.err, ErrMinRequestBodyDataRate)
			assert.Less(t, res.elapsed, 3*time.Second)
		})
	}
}
