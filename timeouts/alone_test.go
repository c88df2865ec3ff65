package timeouts

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/clock"
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
// request's lock) beside each lock-free step of the request it was calling
// as it was given back, now handed on by the pool: under the race detector
// each must meet it at the lock.
func TestLateAlarmMeetsLock(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	for _, step := range []struct {
		name string
		do   func(q *request)
	}{
		{"a buffered write", func(q *request) { q.BeginWrite(6); q.EndWrite(6, nil) }},
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
