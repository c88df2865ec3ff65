package limits

import (
	"sync"
	"time"
)

// A waiter's state, changed only under the ConcurrencyLimiter's mutex.
const (
	waiterQueued    uint8 = iota
	waiterGranted         // a released slot was handed to it
	waiterPushedOut       // newest first: a newer request took its place
)

// waiter is a request waiting in a ConcurrencyLimiter's queue.
type waiter struct {
	prev, next *waiter
	state      uint8
	ready      chan struct{} // receives one value when state leaves waiterQueued
	timer      *time.Timer
}

// wake tells w its state changed; call it with the limiter's mutex held, once.
func (w *waiter) wake() { w.ready <- struct{}{} }

// waiters are reused: a queue that fills and drains under load would
// otherwise allocate a channel and a timer per queued request.
var waiters = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waiter{ready: make(chan struct{}, 1), timer: t}
}}

func getWaiter() *waiter {
	w := waiters.Get().(*waiter)
	w.state = waiterQueued
	return w
}

// putWaiter returns w to the pool. Its timer must be stopped, and its ready
// channel empty.
func putWaiter(w *waiter) {
	w.prev, w.next = nil, nil
	waiters.Put(w)
}

// waitQueue is a doubly linked list of waiters in arrival order, so that a
// request can leave from anywhere in it at once.
type waitQueue struct {
	head, tail *waiter
	len        int
}

func (q *waitQueue) pushBack(w *waiter) {
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.len++
}

func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
	q.len--
}
