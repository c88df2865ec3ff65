package timeouts

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

func TestApply(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	var srv http.Server
	pol.Apply(&srv)
	assert.Equal(t, 130*time.Second, srv.IdleTimeout)
	assert.Equal(t, 30*time.Second, srv.ReadHeaderTimeout)
	assert.Zero(t, srv.ReadTimeout, "left alone: rates replace it")
	assert.Zero(t, srv.WriteTimeout)
	assert.Nil(t, srv.HTTP2, "WriteByteTimeout is the user's choice")

	mine := http.Server{IdleTimeout: time.Minute, ReadHeaderTimeout: time.Second}
	pol.Apply(&mine)
	assert.Equal(t, time.Minute, mine.IdleTimeout, "what the user set stands")
	assert.Equal(t, time.Second, mine.ReadHeaderTimeout)

	keep, err := New(Config{KeepAliveTimeout: -1, RequestHeadersTimeout: -1, MinResponseDataRate: Off})
	require.NoError(t, err)
	var untouched http.Server
	keep.Apply(&untouched)
	assert.Zero(t, untouched.IdleTimeout)
	assert.Zero(t, untouched.ReadHeaderTimeout)

	only := MinDataRates(Rate{}, Rate{})
	var s2 http.Server
	only.Apply(&s2)
	assert.Zero(t, s2.IdleTimeout)
	assert.Zero(t, s2.ReadHeaderTimeout)
	assert.NotNil(t, s2.ConnContext, "the unsent bytes are bounded")
}

func TestHijackedStopsPolicing(t *testing.T) {
	pol := MinDataRates(Rate{BytesPerSecond: 1, GracePeriod: time.Millisecond}, Rate{BytesPerSecond: 1, GracePeriod: time.Millisecond})
	q := &request{p: pol, in: pol.in, out: pol.out}
	q.Hijacked(nil)
	policed, err := q.beginRead()
	assert.False(t, policed)
	assert.NoError(t, err)
	q.BeginWrite(100)
	assert.Zero(t, q.writing)
	assert.Nil(t, q.alarm, "no alarm armed")
}

func TestStats(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.EqualValues(t, 1, pol.Stats().ActiveRequests)
	}))
	h.ServeHTTP(testserver.NewNopWriter(), &http.Request{Method: "GET", ProtoMajor: 1, Body: http.NoBody, Header: http.Header{}})
	assert.Equal(t, Stats{RequestsPoliced: 1}, pol.Stats())
}

// deadlineWriter records the write deadlines set on it.
type deadlineWriter struct {
	testserver.NopWriter
	deadlines []time.Time
}

func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.deadlines = append(w.deadlines, t)
	return nil
}

func TestFinishBoundsWhatNetHTTPWritesLast(t *testing.T) {
	grace := 2 * time.Second
	pol := MinDataRates(Off, Rate{BytesPerSecond: 1000, GracePeriod: grace})
	for _, tt := range []struct {
		major int
		flush bool
		want  int
	}{
		{1, false, 1},
		{1, true, 1}, // net/http still writes the end of a chunked body
		{2, false, 1},
		{2, true, 0}, // everything is out
	} {
		w := &deadlineWriter{NopWriter: *testserver.NewNopWriter()}
		h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, 5000)) // 5 s at 1,000 B/s
			if tt.flush {
				w.(http.Flusher).Flush()
			}
		}))
		start := time.Now()
		h.ServeHTTP(w, &http.Request{Method: "GET", ProtoMajor: tt.major, Body: http.NoBody, Header: http.Header{}})
		require.Len(t, w.deadlines, tt.want, "HTTP/%d, flushed %v", tt.major, tt.flush)
		if tt.want == 0 {
			continue
		}
		// The running deadline of the write: 5,000 bytes and the header at
		// 1,000 B/s from when it began.
		wait := w.deadlines[0].Sub(start)
		assert.Greater(t, wait, 5*time.Second)
		assert.Less(t, wait, 6*time.Second)
	}
}

// headerCounter counts Header calls: net/http copies the header map of a
// response whose Header was called, so the policy must not be the first.
type headerCounter struct {
	testserver.NopWriter
	calls int
}

func (w *headerCounter) Header() http.Header {
	w.calls++
	return w.NopWriter.Header()
}

func TestPolicyLeavesHeaderAlone(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	w := &headerCounter{NopWriter: *testserver.NewNopWriter()}
	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	h.ServeHTTP(w, &http.Request{Method: "GET", ProtoMajor: 1, Body: http.NoBody, Header: http.Header{}})
	assert.Zero(t, w.calls)
}
