package limits

import (
	"sync"
	"sync/atomic"
)

// pool counts slots in use against a maximum. Acquire and release are one
// atomic operation each; only a caller prepared to wait (the connection queue)
// touches the mutex.
type pool struct {
	max     int64 // 0: no limit; negative: no slots at all
	n       atomic.Int64
	waiters atomic.Int32
	mu      sync.Mutex
	wake    chan struct{} // closed when a slot is released, if waiters > 0
}

// acquire takes a slot if one is free.
func (p *pool) acquire() bool {
	if p.max == 0 {
		p.n.Add(1)
		return true
	}
	for {
		n := p.n.Load()
		if n >= p.max {
			return false
		}
		if p.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release gives a slot back and wakes anyone waiting for one.
func (p *pool) release() {
	p.n.Add(-1)
	if p.waiters.Load() > 0 {
		p.mu.Lock()
		if p.wake != nil {
			close(p.wake)
			p.wake = nil
		}
		p.mu.Unlock()
	}
}

// watch registers the caller as waiting and returns a channel that is closed
// at the next release. Call it before trying acquire, so that no release can
// fall between a failed acquire and the wait; call unwatch when done.
func (p *pool) watch() <-chan struct{} {
	p.waiters.Add(1)
	p.mu.Lock()
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	c := p.wake
	p.mu.Unlock()
	return c
}

func (p *pool) unwatch() { p.waiters.Add(-1) }

func (p *pool) inUse() int64 { return p.n.Load() }
