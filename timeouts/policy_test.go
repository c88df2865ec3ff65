package timeouts

import (
	"context"
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
	require.NoError(t, pol.Apply(&srv))
	assert.Equal(t, 130*time.Second, srv.IdleTimeout)
	assert.Equal(t, 30*time.Second, srv.ReadHeaderTimeout)
	assert.Zero(t, srv.ReadTimeout, "left alone: rates replace it")
	assert.Zero(t, srv.WriteTimeout)
	assert.Nil(t, srv.HTTP2, "WriteByteTimeout is the user's choice")
	assert.True(t, srv.DisableGeneralOptionsHandler, `"OPTIONS *" goes through the handlers`)
	assert.NotNil(t, srv.ConnContext)

	mine := http.Server{IdleTimeout: time.Minute, ReadHeaderTimeout: time.Second}
	require.NoError(t, pol.Apply(&mine))
	assert.Equal(t, time.Minute, mine.IdleTimeout, "what the user set stands")
	assert.Equal(t, time.Second, mine.ReadHeaderTimeout)

	keep, err := New(Config{KeepAliveTimeout: -1, RequestHeadersTimeout: -1, MinResponseDataRate: Off})
	require.NoError(t, err)
	var untouched http.Server
	require.NoError(t, keep.Apply(&untouched))
	assert.Zero(t, untouched.IdleTimeout)
	assert.Zero(t, untouched.ReadHeaderTimeout)

	only := MinDataRates(Rate{}, Rate{})
	var s2 http.Server
	require.NoError(t, only.Apply(&s2))
	assert.Zero(t, s2.IdleTimeout)
	assert.Zero(t, s2.ReadHeaderTimeout)
	assert.NotNil(t, s2.ConnContext, "the unsent bytes are bounded")
}

func TestApplyRefusesTimeoutsThatCutTheRates(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	for _, tt := range []struct {
		read, write time.Duration
		want        string
	}{
		{30 * time.Second, 0, "windhover/timeouts: http.Server.ReadTimeout = 30s would cut request bodies that keep Config.MinRequestBodyDataRate (240 B/s after 5s); set it to 0, or Config.KeepServerTimeouts to keep it"},
		{0, time.Minute, "windhover/timeouts: http.Server.WriteTimeout = 1m0s would cut responses that keep Config.MinResponseDataRate (240 B/s after 5s); set it to 0, or Config.KeepServerTimeouts to keep it"},
	} {
		srv := http.Server{ReadTimeout: tt.read, WriteTimeout: tt.write}
		err := pol.Apply(&srv)
		require.EqualError(t, err, tt.want)
		assert.Zero(t, srv.IdleTimeout, "nothing changed")
		assert.Nil(t, srv.ConnContext)
		assert.False(t, srv.DisableGeneralOptionsHandler)

		err = MinDataRates(Rate{}, Rate{}).Apply(&srv)
		assert.EqualError(t, err, tt.want, "MinDataRates too")
	}

	// A rate switched off conflicts with nothing.
	noBody := MinDataRates(Off, Rate{})
	require.NoError(t, noBody.Apply(&http.Server{ReadTimeout: time.Minute}))
	noResp := MinDataRates(Rate{}, Off)
	require.NoError(t, noResp.Apply(&http.Server{WriteTimeout: time.Minute}))
}

// TestApplyRefusesLongerServerTimers: a server's IdleTimeout or
// ReadHeaderTimeout longer than the timer it stands for on TLS and HTTP/2
// connections is an error naming both values, every conflict at once, and
// the server is left as it was; one the timer's Config switches off, or
// one no longer than the timer, conflicts with nothing.
func TestApplyRefusesLongerServerTimers(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	srv := http.Server{IdleTimeout: 10 * time.Minute, ReadHeaderTimeout: time.Minute, ReadTimeout: time.Hour}
	err = pol.Apply(&srv)
	require.Error(t, err)
	for _, want := range []string{
		"windhover/timeouts: http.Server.IdleTimeout = 10m0s is longer than Config.KeepAliveTimeout = 2m10s, and would stand for it on TLS and HTTP/2 connections; set it to 2m10s or less (0: Apply sets it), or Config.KeepAliveTimeout to 10m0s",
		"windhover/timeouts: http.Server.ReadHeaderTimeout = 1m0s is longer than Config.RequestHeadersTimeout = 30s, and would stand for it on TLS connections; set it to 30s or less (0: Apply sets it), or Config.RequestHeadersTimeout to 1m0s",
		"http.Server.ReadTimeout = 1h0m0s would cut request bodies",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Equal(t, 10*time.Minute, srv.IdleTimeout, "left as it was")
	assert.Nil(t, srv.ConnContext, "nothing changed")
	assert.False(t, srv.DisableGeneralOptionsHandler)

	// A negative value is none at all for net/http.
	none := http.Server{IdleTimeout: -1, ReadHeaderTimeout: -1}
	err = pol.Apply(&none)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http.Server.IdleTimeout = -1ns (none) is longer than Config.KeepAliveTimeout = 2m10s, and would stand for it on TLS and HTTP/2 connections; set it to 2m10s or less (0: Apply sets it), or a negative Config.KeepAliveTimeout to leave it to the server")
	assert.Contains(t, err.Error(), "http.Server.ReadHeaderTimeout = -1ns (none) is longer than Config.RequestHeadersTimeout = 30s")

	for _, ok := range []struct {
		cfg Config
		srv *http.Server
	}{
		{Config{KeepAliveTimeout: -1, RequestHeadersTimeout: -1}, &http.Server{IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour}},
		{Config{KeepAliveTimeout: time.Hour, RequestHeadersTimeout: time.Hour}, &http.Server{IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour}},
		{Config{}, &http.Server{IdleTimeout: 130 * time.Second, ReadHeaderTimeout: 30 * time.Second}},
	} {
		p, err := New(ok.cfg)
		require.NoError(t, err)
		assert.NoError(t, p.Apply(ok.srv))
	}
}

func TestApplyKeepsServerTimeouts(t *testing.T) {
	pol, err := New(Config{KeepServerTimeouts: true})
	require.NoError(t, err)
	// net/http bounds idle connections and request headers by ReadTimeout
	// where IdleTimeout and ReadHeaderTimeout are zero: the shorter bound
	// stands.
	srv := http.Server{ReadTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	require.NoError(t, pol.Apply(&srv))
	assert.Equal(t, 10*time.Second, srv.ReadTimeout)
	assert.Equal(t, time.Minute, srv.WriteTimeout)
	assert.Equal(t, 10*time.Second, srv.IdleTimeout)
	assert.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)

	long := http.Server{ReadTimeout: 10 * time.Minute}
	require.NoError(t, pol.Apply(&long))
	assert.Equal(t, 130*time.Second, long.IdleTimeout)
	assert.Equal(t, 30*time.Second, long.ReadHeaderTimeout)
}

func TestHijackedStopsPolicing(t *testing.T) {
	pol := MinDataRates(Rate{BytesPerSecond: 1, GracePeriod: time.Millisecond}, Rate{BytesPerSecond: 1, GracePeriod: time.Millisecond})
	q := &request{state: state{p: pol, in: pol.in, out: pol.out}}
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
	grace := time.Second
	pol := MinDataRates(Off, Rate{BytesPerSecond: 1000, GracePeriod: grace})
	for _, tt := range []struct {
		major    int
		size     int
		flush    bool
		want     int
		min, max time.Duration
	}{
		// 5,000 bytes, 5 s at 1,000 B/s, taken at once: the client is
		// ahead of the rate by more than the grace period, which is all
		// it banks; what net/http writes last must leave within it.
		{1, 5000, false, 1, grace, grace + 100*time.Millisecond},
		{1, 5000, true, 1, grace, grace + 100*time.Millisecond}, // net/http still writes the end of a chunked body
		{2, 5000, false, 1, grace, grace + 100*time.Millisecond},
		{2, 5000, true, 0, 0, 0}, // everything is out
		// 1,500 bytes that stay in net/http's buffer, and the header: they
		// leave after the handler, and may take their n/rate.
		{1, 1500, false, 1, 1628 * time.Millisecond, 1700 * time.Millisecond},
	} {
		w := &deadlineWriter{NopWriter: *testserver.NewNopWriter()}
		h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, tt.size))
			if tt.flush {
				w.(http.Flusher).Flush()
			}
		}))
		start := time.Now()
		h.ServeHTTP(w, &http.Request{Method: "GET", ProtoMajor: tt.major, Body: http.NoBody, Header: http.Header{}})
		end := time.Now()
		require.Len(t, w.deadlines, tt.want, "HTTP/%d, %d bytes, flushed %v", tt.major, tt.size, tt.flush)
		if tt.want == 0 {
			continue
		}
		assert.GreaterOrEqual(t, w.deadlines[0].Sub(start), tt.min, "HTTP/%d, %d bytes", tt.major, tt.size)
		assert.LessOrEqual(t, w.deadlines[0].Sub(end), tt.max, "HTTP/%d, %d bytes", tt.major, tt.size)
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

func TestKeptWriteTimeoutStaysTheBound(t *testing.T) {
	// With Config.KeepServerTimeouts a server's WriteTimeout stays: the
	// deadline the policy sets for what net/http writes last is never later.
	pol, err := New(Config{KeepServerTimeouts: true, MinRequestBodyDataRate: Off, MinResponseDataRate: Rate{BytesPerSecond: 1000, GracePeriod: 2 * time.Second}})
	require.NoError(t, err)
	srv := &http.Server{WriteTimeout: time.Second}
	require.NoError(t, pol.Apply(srv))
	w := &deadlineWriter{NopWriter: *testserver.NewNopWriter()}
	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 5000)) // 5 s at 1,000 B/s
	}))
	r := (&http.Request{Method: "GET", ProtoMajor: 1, Body: http.NoBody, Header: http.Header{}}).
		WithContext(context.WithValue(context.Background(), http.ServerContextKey, srv))
	start := time.Now()
	h.ServeHTTP(w, r)
	require.Len(t, w.deadlines, 1)
	assert.Less(t, w.deadlines[0].Sub(start), 2*time.Second, "the WriteTimeout, not the rate's 5 s")
}

// TestActiveOneCell: a request goes up and down in one cell of the active
// count, though its goroutine moves to another processor between, so that
// Stats, which reads the cells one by one, never sees the -1 without the +1.
func TestActiveOneCell(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	testserver.ServeMoving(p.Handler)
	testserver.CheckCells(t, "the active requests", &p.active)
	if n := p.policed.Load(); n != testserver.ServedMoving {
		t.Errorf("policed %d requests, want %d", n, testserver.ServedMoving)
	}
}
