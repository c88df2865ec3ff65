package timeouts

import (
	"sync"
	"sync/atomic"
	"time"
)

// alarm is a timer that checks a request's deadlines when it fires. Alarms
// are pooled: a timer costs an allocation, and a request needs one only
// while it reads or writes.
type alarm struct {
	t     *time.Timer
	owner atomic.Pointer[request]
	calls atomic.Int32 // fire calls under way
}

var alarms sync.Pool

func getAlarm(q *request) *alarm {
	a, _ := alarms.Get().(*alarm)
	if a == nil {
		a = new(alarm)
		a.t = time.AfterFunc(time.Hour, a.fire)
		a.t.Stop()
	}
	a.owner.Store(q)
	return a
}

// fire checks the owner's deadlines. A firing that races with release, or
// reaches the alarm's next owner, only makes that owner check its deadlines,
// which is harmless: check acts only on deadlines that have passed.
func (a *alarm) fire() {
	a.calls.Add(1)
	a.step("fire counted")
	if q := a.owner.Load(); q != nil {
		q.check()
	}
	a.calls.Add(-1)
}

// release gives the alarm back, and reports whether its owner is then free
// of it: no call of fire was under way, so that none can reach the owner
// later. A call counts itself before it looks for the owner, and release
// looks at the count after taking the owner away, so that a call it does not
// see finds no owner, or the alarm's next (which may be the same request in
// a later use, alarmed again).
func (a *alarm) release() (free bool) {
	a.owner.Store(nil)
	a.step("release took owner")
	a.t.Stop()
	free = a.calls.Load() == 0
	alarms.Put(a)
	return free
}

// testHookAlarm, set by a test, runs at the named steps of fire and
// release, so that the test can run another goroutine between two steps.
var testHookAlarm atomic.Pointer[func(a *alarm, step string)]

func (a *alarm) step(name string) {
	if h := testHookAlarm.Load(); h != nil {
		(*h)(a, name)
	}
}
