package stack

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Serve serves r with h on a worker goroutine whose stack has grown already,
// and waits for it to finish: an HTTP/2 stream's goroutine, new for each
// request, then never grows its stack, which costs more than handing the
// request over (see the package documentation). A panic in h is raised
// again on the calling goroutine with the same value, after logf (if not
// nil) has been given the worker's stack, which the panic raised again no
// longer shows; a handler that calls runtime.Goexit ends the calling
// goroutine too.
//
// A worker is the goroutine of one request at a time. Between requests it
// is unlocked from its OS thread (a handler that locked it and returned
// would otherwise leave it locked for the next); profiler labels a handler
// set with pprof.SetGoroutineLabels and did not restore stay on it, as
// pprof.Do restores them. A worker idle for ten seconds ends.
func Serve(h http.Handler, w http.ResponseWriter, r *http.Request, logf func(format string, args ...any)) {
	j := jobs.Get().(*job)
	j.h, j.w, j.r = h, w, r
	select {
	case idle <- j:
	default:
		go work(j)
	}
	<-j.done
	p, panicked, exited, stack := j.p, j.panicked, j.exited, j.stack
	*j = job{done: j.done}
	jobs.Put(j)
	switch {
	case panicked:
		if p != http.ErrAbortHandler && logf != nil {
			logf("windhover: panic serving %v: %v\n%s", r.RemoteAddr, p, stack)
		}
		panic(p)
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
	h        http.Handler
	w        http.ResponseWriter
	r        *http.Request
	panicked bool
	p        any    // the panic's value
	stack    []byte // the worker's stack at the panic
	exited   bool   // the handler called runtime.Goexit
	done     chan struct{}
}

var (
	// idle hands a job to a worker waiting for one.
	idle = make(chan *job)
	jobs = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}
)

// work is a worker's goroutine, from its first job on. Its frame holds a
// pad below which every request runs: the stack grows to the chain's size
// once, and the garbage collector, which shrinks a stack a quarter used,
// leaves it.
//
//go:noinline
func work(j *job) {
	var pad [8 << 10]byte
	serveJobs(j, pad[:])
}

//go:noinline
func serveJobs(j *job, pad []byte) {
	_ = pad[len(pad)-1]
	t := time.NewTimer(time.Duration(idleTimeout.Load()))
	defer t.Stop()
	for {
		if !run(j) {
			return // runtime.Goexit: the goroutine ends
		}
		j.done <- struct{}{}
		runtime.UnlockOSThread()
		t.Reset(time.Duration(idleTimeout.Load()))
		select {
		case j = <-idle:
		case <-t.C:
			return
		}
	}
}

// run serves j, and reports false if the handler called runtime.Goexit,
// after telling the waiting goroutine so.
func run(j *job) (ok bool) {
	defer func() {
		if ok {
			return
		}
		if j.p = recover(); j.p != nil {
			j.panicked, ok = true, true
			if j.p != http.ErrAbortHandler {
				j.stack = debug.Stack()
			}
			return
		}
		j.exited = true
		j.done <- struct{}{}
	}()
	j.h.ServeHTTP(j.w, j.r)
	return true
}
