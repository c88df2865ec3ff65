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
	if q := a.owner.Load(); q != nil {
		q.check()
	}
}

func (a *alarm) release() {
	a.owner.Store(nil)
	a.t.Stop()
	alarms.Put(a)
}
