package timeouts

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/testserver"
)

// TestAloneUntilAlarmed holds the lock-free end of a request without a body
// (finish, recycle) to the one case where nothing else can touch it: no
// alarm has ever had the request as owner. An alarm released as it fired
// may call its owner late, after the pool has handed the request on, so
// that a request once alarmed ends under its lock for good.
func TestAloneUntilAlarmed(t *testing.T) {
	q := new(request)
	assert.True(t, q.alone(), "a new request without a body")
	q.b = new(body)
	assert.False(t, q.alone(), "a body another goroutine may still read")
	q.b = nil

	now := clock.Now()
	q.mu.Lock()
	q.arm(now, now.Add(time.Hour))
	q.mu.Unlock()
	assert.False(t, q.alone(), "with an alarm")
	a := q.alarm
	q.alarm = nil
	a.release()
	q.mu.Lock()
	q.state = state{} // as recycle clears it for the pool's next request
	q.mu.Unlock()
	assert.False(t, q.alone(), "once alarmed, after recycling")
}

// TestLateAlarmMeetsFinish runs an alarm's late call of a request it once
// owned (check, under the request's lock) beside that request's next end
// (finish): under the race detector the two must meet at the lock.
func TestLateAlarmMeetsFinish(t *testing.T) {
	p := &Policy{}
	q := new(request)
	start := func() {
		q.mu.Lock()
		q.state = state{}
		q.mu.Unlock()
		q.p, q.out = p, Rate{BytesPerSecond: -1}
		q.w.Reset(testserver.NewNopWriter(), q)
	}
	start()
	now := clock.Now()
	q.mu.Lock()
	q.arm(now, now.Add(time.Hour))
	q.mu.Unlock()
	q.finish() // releases the alarm

	start() // the pool hands it to a request without a body
	var wg sync.WaitGroup
	wg.Go(q.check) // the released alarm, calling late
	q.finish()
	wg.Wait()
	assert.True(t, q.done)
}
