package timeouts

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/testserver"
)

// alarmed gives q an alarm as a timed write does, far off.
func alarmed(q *request) *alarm {
	now := clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.arm(now, now.Add(time.Hour))
	return q.alarm
}

// begin makes q a request without a body under p, as the handler does with
// one from the pool.
func begin(q *request, p *Policy) {
	q.mu.Lock()
	q.state = state{}
	q.mu.Unlock()
	q.p, q.out, q.knownBuffer = p, p.out, true
	q.outOff.Store(p.out.IsOff())
	q.w.Reset(testserver.NewNopWriter(), q)
}

// TestAloneUntilAlarmed holds the lock-free paths of a request without a
// body (a write that stays in net/http's buffer, the request's end) to the
// cases where no other goroutine than its handler's can touch it: no body,
// and no alarm that may call it. An alarm given back while it was calling
// the request may call it late, once the pool has handed it on, so that such
// a request takes the lock for good.
func TestAloneUntilAlarmed(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	q := new(request)
	begin(q, pol)
	assert.True(t, q.alone(), "a new request without a body")
	q.b = new(body)
	assert.False(t, q.alone(), "a body another goroutine may read")
	q.b = nil

	alarmed(q)
	assert.False(t, q.alone(), "with an alarm")
	q.finish()
	assert.True(t, q.alone(), "its alarm given back with no call under way")

	begin(q, pol)
	a := alarmed(q)
	a.calls.Add(1) // the alarm calling, as finish gives it back
	q.finish()
	a.calls.Add(-1)
	assert.False(t, q.alone(), "its alarm given back while calling")
	begin(q, pol)
	alarmed(q)
	q.finish()
	assert.False(t, q.alone(), "haunted for good: the late call is never known to be over")
}

// TestLateAlarmMeetsLock runs a late call of an alarm (check, under the
// request's lock) beside the end of the request it was calling as it was
// given back, now handed on by the pool: under the race detector the two
// must meet at the lock. (A buffered write of that request touches nothing
// such a call reads; TestAlarmMeetsBufferedWrite covers the write.)
func TestLateAlarmMeetsLock(t *testing.T) {
	if !raceEnabled {
		t.Skip("only the race detector tells a missing lock here")
	}
	pol, err := New(Config{})
	require.NoError(t, err)
	for _, step := range []struct {
		name string
		do   func(q *request)
	}{
		{"finish", func(q *request) { q.finish() }},
		{"recycle", func(q *request) { q.finish(); q.recycle() }},
	} {
		t.Run(step.name, func(t *testing.T) {
			q := new(request)
			begin(q, pol)
			a := alarmed(q)
			a.calls.Add(1)
			q.finish()
			a.calls.Add(-1)

			begin(q, pol)
			var wg sync.WaitGroup
			wg.Go(q.check) // the call that was under way, late
			step.do(q)
			wg.Wait()
		})
	}
}

// TestResponseRateSwitchedBesideWrites switches the response rate off on one
// goroutine while another writes small pieces of the response, as a handler
// of server-sent events may: the switch is one thing a handler may do beside
// a write, which the race detector holds to that.
func TestResponseRateSwitchedBesideWrites(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var wg sync.WaitGroup
				wg.Go(func() {
					for range 50 {
						_, _ = io.WriteString(w, "data: x\n\n")
					}
				})
				for range 50 {
					assert.NoError(t, SetMinResponseDataRate(w, Off))
					assert.NoError(t, SetMinResponseDataRate(w, Rate{}))
				}
				wg.Wait()
			}), p)
			status, body := s.Get(t, "/", nil)
			assert.Equal(t, http.StatusOK, status)
			assert.Len(t, body, 50*len("data: x\n\n"))
		})
	}
}

// TestReleaseSeesCall gives an alarm back while its fire is under way: the
// owner is not free of it.
func TestReleaseSeesCall(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	q := new(request)
	begin(q, pol)
	a := alarmed(q)
	q.mu.Lock() // the call waits in check
	done := make(chan struct{})
	go func() {
		a.fire()
		close(done)
	}()
	require.Eventually(t, func() bool { return a.calls.Load() == 1 }, 5*time.Second, time.Millisecond, "fire counts its call")
	q.alarm = nil
	assert.False(t, a.release(), "free while the alarm calls")
	q.mu.Unlock()
	<-done
	assert.Zero(t, a.calls.Load())
}

// TestAlarmMeetsBufferedWrite lets a request's alarm find a write past its
// deadline (one whose end never came: the handler recovered from a panic in
// it, say) while the handler writes on into net/http's buffer: the alarm
// reads the bytes written, so that the buffered write must take the lock.
func TestAlarmMeetsBufferedWrite(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	q := new(request)
	begin(q, pol)
	alarmed(q)
	now := clock.Now()
	q.mu.Lock()
	q.writing, q.outStart, q.writeBy = 1, now.Add(-time.Minute), now.Add(-time.Second)
	q.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(q.check)
	q.BeginWrite(6)
	q.EndWrite(6, nil)
	wg.Wait()
	assert.EqualValues(t, 1, pol.Stats().ResponseRateViolations)
	q.finish()
}

// deadlineConn counts the deadlines put on it.
type deadlineConn struct {
	net.Conn
	puts atomic.Int32
}

func (c *deadlineConn) SetReadDeadline(time.Time) error  { c.puts.Add(1); return nil }
func (c *deadlineConn) SetWriteDeadline(time.Time) error { c.puts.Add(1); return nil }

// TestLateViolationCutsNothingNext lets an alarm find a read and a write
// past their deadlines and report them, and, while the first report is under
// way, the request end and its state be cleared and taken by the next
// request, on another connection: both reports name the request checked,
// and the cuts that follow them are not for the next one.
func TestLateViolationCutsNothingNext(t *testing.T) {
	reporting, reported := make(chan struct{}), make(chan struct{})
	var named []*http.Request
	pol, err := New(Config{OnReject: func(r *http.Request, _ error) {
		named = append(named, r)
		if len(named) == 1 {
			close(reporting)
			<-reported
		}
	}})
	require.NoError(t, err)
	q := new(request)
	begin(q, pol)
	a := alarmed(q)
	first, second := httptest.NewRequest("GET", "/first", nil), httptest.NewRequest("GET", "/second", nil)
	now := clock.Now()
	q.mu.Lock()
	q.r, q.conn, q.in = first, &deadlineConn{}, pol.in
	q.readStart, q.readBy = now.Add(-time.Minute), now.Add(-time.Second)
	q.writing, q.outStart, q.writeBy = 1, now.Add(-time.Minute), now.Add(-time.Second)
	q.mu.Unlock()
	fired := make(chan struct{})
	go func() {
		a.fire()
		close(fired)
	}()
	<-reporting
	q.EndWrite(6, nil)
	q.finish()
	assert.False(t, q.alone(), "given back while calling")
	q.clear() // as recycle does, for the pool's next request

	begin(q, pol)
	next := &deadlineConn{}
	q.mu.Lock()
	q.r, q.conn = second, next
	q.mu.Unlock()
	close(reported)
	<-fired
	assert.Equal(t, []*http.Request{first, first}, named, "the reports name the request checked")
	assert.Zero(t, next.puts.Load(), "the next request's connection cut")
	st := pol.Stats()
	assert.EqualValues(t, 1, st.BodyRateViolations)
	assert.EqualValues(t, 1, st.ResponseRateViolations)
}

// TestResponseRateSwitchedOn times a write once the handler switches on a
// response rate its Policy has off, and not before: what a write without the
// lock reads of the rate follows both.
func TestResponseRateSwitchedOn(t *testing.T) {
	pol, err := New(Config{MinResponseDataRate: Off})
	require.NoError(t, err)
	ran := false
	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := rw.Find[*request](w)
		require.True(t, ok)
		_, _ = w.Write(make([]byte, 64<<10))
		assert.Nil(t, q.alarm, "a write under the Policy's rate, off, is not timed")
		require.NoError(t, SetMinResponseDataRate(w, Rate{BytesPerSecond: 240, GracePeriod: time.Second}))
		_, _ = w.Write(make([]byte, 64<<10))
		assert.NotNil(t, q.alarm, "switched on, a write is timed")
		ran = true
	}))
	h.ServeHTTP(testserver.NewNopWriter(), httptest.NewRequest("GET", "/", nil))
	assert.True(t, ran)
}

// hookAlarm runs f at a's steps named step until the test ends.
func hookAlarm(t *testing.T, a *alarm, step string, f func()) {
	h := func(b *alarm, name string) {
		if b == a && name == step {
			f()
		}
	}
	testHookAlarm.Store(&h)
	t.Cleanup(func() { testHookAlarm.Store(nil) })
}

// TestReleaseDuringFire gives an alarm back between the two steps of each
// side of the free-release rule: a call of fire that has counted itself,
// not yet looked for the owner, keeps the owner from being free; a call
// that comes after release took the owner away finds none and lets it go
// free.
func TestReleaseDuringFire(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	t.Run("fire counted", func(t *testing.T) {
		q := new(request)
		begin(q, pol)
		a := alarmed(q)
		counted, proceed, fired := make(chan struct{}), make(chan struct{}), make(chan struct{})
		hookAlarm(t, a, "fire counted", func() {
			close(counted)
			<-proceed
		})
		go func() {
			a.fire()
			close(fired)
		}()
		<-counted
		q.finish()
		close(proceed)
		<-fired
		assert.False(t, q.alone(), "given back while a call was under way")
	})
	t.Run("release took owner", func(t *testing.T) {
		q := new(request)
		begin(q, pol)
		a := alarmed(q)
		hookAlarm(t, a, "release took owner", func() {
			done := make(chan struct{})
			go func() {
				a.fire()
				close(done)
			}()
			<-done
		})
		q.finish()
		assert.True(t, q.alone(), "the call came after the owner was taken away")
		assert.False(t, q.armed.IsZero(), "the call reached the request")
	})
}

// TestUntimedWrites holds the writes that are not timed to the three kinds
// there are, and no other: any write once the request has ended, and a
// write that stays in net/http's buffer only when the writer under the
// handler is net/http's own (another wrapper may flush each write).
func TestUntimedWrites(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	for _, c := range []struct {
		name  string
		set   func(q *request)
		n     int64
		timed bool
	}{
		{"small into net/http's buffer", func(*request) {}, 6, false},
		{"past net/http's buffer", func(*request) {}, netHTTPBuffer + 1, true},
		{"a flush", func(*request) {}, 0, true},
		{"a copy of unknown size", func(*request) {}, -1, true},
		{"small under another wrapper", func(q *request) { q.knownBuffer = false }, 6, true},
		{"after the request ended", func(q *request) { q.done = true }, netHTTPBuffer + 1, false},
		{"after a hijack", func(q *request) { q.hijacked = true }, netHTTPBuffer + 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := new(request)
			begin(q, pol)
			c.set(q)
			q.BeginWrite(c.n)
			assert.Equal(t, c.timed, q.alarm != nil, "timed")
			if q.alarm != nil {
				q.alarm.release()
			}
		})
	}
}
