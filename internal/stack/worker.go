package stack

import (
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A Pool serves requests on its workers: goroutines that serve one request
// after another, each with the stack it grew for the first. The zero Pool is
// ready to use. A server has a Pool of its own, so that its workers are
// started by its own goroutines (and inherit their profiler labels).
type Pool struct {
	mu     sync.Mutex
	idle   []*worker // the workers waiting for a request, the most recent last
	closed bool      // Close was called: a worker ends with its request
}

// Close ends p's idle workers, and has every other end once its request is
// served, so that a server shut down leaves none behind (a goroutine leak
// check after Shutdown finds none). Serve works on after Close, each
// request on a new worker that ends with it.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, wk := range idle {
		wk.jobs <- nil
	}
}

// A worker is a goroutine of a Pool.
type worker struct {
	jobs chan *job // its next request; one at most
}

// Serve serves r with h on one of p's workers, and waits for it to finish:
// the calling goroutine, an HTTP/2 stream's, new for each request, then never
// grows its stack, which costs more than the handover (see the package
// documentation). The most recently idle worker takes the request, so that
// after a burst the workers it started and no longer needs go idle and end.
//
// A panic in h is raised again on the calling goroutine with the same value,
// after logf (if not nil) has been given the worker's stack, which the panic
// raised again no longer shows; http.ErrAbortHandler, which net/http does not
// log, is not given to logf. A handler that calls runtime.Goexit ends the
// calling goroutine too.
//
// A worker is the goroutine of one request at a time. After each it undoes
// one runtime.LockOSThread the handler left (a goroutine of net/http's that
// ends locked to its thread takes the thread with it; a worker goes on, on
// that thread if the handler locked it twice). Profiler labels a handler set
// with pprof.SetGoroutineLabels and did not restore stay on the worker, as
// pprof.Do restores them. A worker starts with the profiler labels of the
// goroutine that started it, a stream's of the same server, and keeps them:
// labels set on a later request's goroutine do not reach its handler. A
// worker idle for ten seconds ends.
func (p *Pool) Serve(h http.Handler, w http.ResponseWriter, r *http.Request, logf func(format string, args ...any)) {
	j := jobs.Get().(*job)
	j.h, j.w, j.r = h, w, r
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		wk := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		wk.jobs <- j
	} else {
		p.mu.Unlock()
		go p.work(j)
	}
	<-j.done
	v, exited, trace := j.p, j.exited, j.trace
	*j = job{done: j.done}
	jobs.Put(j)
	switch {
	case v != nil: // recover gives every panic a value (panic(nil) a *runtime.PanicNilError)
		if v != http.ErrAbortHandler && logf != nil {
			logf("windhover: panic serving %v: %v\n%s", r.RemoteAddr, v, trace)
		}
		panic(v)
	case exited:
		runtime.Goexit()
	}
}

// idleTimeout is how long a worker waits for its next request before it
// ends (a time.Duration; the tests shorten it).
var idleTimeout atomic.Int64

func init() { idleTimeout.Store(int64(10 * time.Second)) }

// A job is one request handed to a worker, and how it ended.
type job struct {
	h      http.Handler
	w      http.ResponseWriter
	r      *http.Request
	p      any    // the panic's value, if the handler panicked
	trace  []byte // the worker's stack at the panic
	exited bool   // the handler called runtime.Goexit
	done   chan struct{}
}

var jobs = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

// work is a worker's goroutine, from its first job on.
func (p *Pool) work(j *job) {
	wk := &worker{jobs: make(chan *job, 1)}
	t := time.NewTimer(time.Duration(idleTimeout.Load()))
	busy := true // serving j, whose caller waits
	defer func() {
		t.Stop()
		if busy {
			// The handler called runtime.Goexit (perhaps with a panic
			// in its deferred calls, which run recovered): the worker
			// ends, and so must the caller.
			j.exited = true
			j.done <- struct{}{}
		}
	}()
	for {
		run(j)
		// Idle before the caller hears of the end, so that a request it
		// serves next finds the worker waiting (it touches nothing of j
		// after the send).
		runtime.UnlockOSThread()
		p.mu.Lock()
		closed := p.closed
		if !closed {
			p.idle = append(p.idle, wk)
		}
		p.mu.Unlock()
		t.Reset(time.Duration(idleTimeout.Load()))
		busy = false
		j.done <- struct{}{}
		if closed {
			return
		}
		select {
		case j = <-wk.jobs:
		case <-t.C:
			if p.leave(wk) {
				return
			}
			j = <-wk.jobs // a Serve took the worker as it timed out, or Close did
		}
		if j == nil {
			return // Close
		}
		busy = true
	}
}

// leave takes wk out of the idle workers, and reports false if it is no
// longer among them: a Serve took it, and its job is on the way.
func (p *Pool) leave(wk *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.idle, wk); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
		return true
	}
	return false
}

// maxStack bounds the worker's stack logged for a panic, as net/http bounds
// the one it logs.
const maxStack = 64 << 10

// run serves j, recovering a panic into it.
func run(j *job) {
	defer func() {
		if j.p = recover(); j.p != nil && j.p != http.ErrAbortHandler {
			j.trace = make([]byte, maxStack)
			j.trace = j.trace[:runtime.Stack(j.trace, false)]
		}
	}()
	j.h.ServeHTTP(j.w, j.r)
}
