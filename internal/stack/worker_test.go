package stack

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// goid returns the calling goroutine's number.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return string(bytes.Fields(b)[1])
}

func request() (http.ResponseWriter, *http.Request) {
	return httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)
}

// mustServe fails the test unless p serves a request, after what.
func mustServe(t *testing.T, p *Pool, what string) {
	t.Helper()
	served := false
	w, r := request()
	p.Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }), w, r, nil)
	if !served {
		t.Fatal("not served " + what)
	}
}

// serveAside serves h on p from a goroutine of its own, and reports what
// that goroutine's deferred call recovered and whether it went on after
// Serve; it fails the test if Serve does not end within 5 s.
func serveAside(t *testing.T, p *Pool, h http.Handler) (raised any, after bool) {
	t.Helper()
	type end struct {
		raised any
		after  bool
	}
	ended := make(chan end, 1)
	go func() {
		var e end
		defer func() { e.raised = recover(); ended <- e }()
		w, r := request()
		p.Serve(h, w, r, nil)
		e.after = true
	}()
	select {
	case e := <-ended:
		return e.raised, e.after
	case <-time.After(5 * time.Second):
		t.Fatal("the calling goroutine waits for ever")
		return nil, false
	}
}

// TestServeHandsOver: the handler runs on another goroutine, and Serve
// returns once it has returned; a worker serves the next request.
func TestServeHandsOver(t *testing.T) {
	var p Pool
	var ids []string
	done := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
		ids = append(ids, goid())
		done = true
	})
	for range 3 {
		done = false
		w, r := request()
		p.Serve(h, w, r, nil)
		if !done {
			t.Fatal("Serve returned before the handler")
		}
	}
	if ids[0] == goid() {
		t.Fatal("the handler ran on the calling goroutine")
	}
	if ids[1] != ids[0] || ids[2] != ids[0] {
		t.Fatalf("served on goroutines %v: want one worker for requests one after another", ids)
	}
}

// TestServeConcurrent: requests at once each get a worker, and their own
// writer and request.
func TestServeConcurrent(t *testing.T) {
	var p Pool
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", fmt.Sprintf("/%d", i), nil)
			p.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(time.Millisecond)
				_, _ = w.Write([]byte(r.URL.Path))
			}), rec, r, nil)
			if got := rec.Body.String(); got != fmt.Sprintf("/%d", i) {
				errs <- fmt.Errorf("request %d answered %q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type panicValue struct{ s string }

// panicky panics with v.
//
//go:noinline
func panicky(v any) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(v) })
}

// TestServePanic: a panic is raised again on the calling goroutine with the
// same value, after the worker's stack, which shows where it came from, has
// been logged; http.ErrAbortHandler, which net/http does not log, is not
// logged either. The worker goes on serving.
func TestServePanic(t *testing.T) {
	var pool Pool
	for _, v := range []any{&panicValue{"boom"}, http.ErrAbortHandler, errors.New("e")} {
		var logs []string
		logf := func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
		got := func() (raised any) {
			defer func() { raised = recover() }()
			w, r := request()
			pool.Serve(panicky(v), w, r, logf)
			return nil
		}()
		if got != v {
			t.Fatalf("raised %v, want %v itself", got, v)
		}
		if v == http.ErrAbortHandler {
			if len(logs) != 0 {
				t.Fatalf("logged %q for ErrAbortHandler", logs)
			}
		} else if len(logs) != 1 || !strings.Contains(logs[0], "windhover: panic serving") || !strings.Contains(logs[0], "stack.panicky") {
			t.Fatalf("logged %q, want the worker's stack, with the handler in it", logs)
		}
		mustServe(t, &pool, "after a panic")
	}
}

// TestServeGoexit: a handler that calls runtime.Goexit ends the calling
// goroutine too, which runs its deferred calls and nothing after Serve.
func TestServeGoexit(t *testing.T) {
	var p Pool
	raised, after := serveAside(t, &p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { runtime.Goexit() }))
	if after || raised != nil {
		t.Fatalf("the calling goroutine went on after Serve (%v) or panicked (%v)", after, raised)
	}
	mustServe(t, &p, "after a Goexit")
}

// TestMain shortens the workers' idle timeout, so that those of one test
// have ended before TestServeIdleWorkersEnd counts goroutines.
func TestMain(m *testing.M) {
	idleTimeout.Store(int64(100 * time.Millisecond))
	m.Run()
}

// settled waits until the number of goroutines stays the same for three
// idle timeouts, and returns it.
func settled(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	n := runtime.NumGoroutine()
	for stable := 0; stable < 3; {
		time.Sleep(time.Duration(idleTimeout.Load()))
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines still coming and going: %d", n)
		}
	}
	return n
}

// burst serves n requests at once on p, each on a worker of its own: none
// returns before all have begun.
func burst(p *Pool, n int) { start(p, n, nil).Wait() }

// start begins n requests at once on p, each on a worker of its own, which
// call then with their index once all have begun; it returns what to wait
// on for their end.
func start(p *Pool, n int, then func(i int)) *sync.WaitGroup {
	var started, wg sync.WaitGroup
	started.Add(n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, r := request()
			p.Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				started.Done()
				started.Wait()
				if then != nil {
					then(i)
				}
			}), w, r, nil)
		}()
	}
	return &wg
}

// TestServeIdleWorkersEnd: requests at once start workers, which end once
// idle for the idle timeout.
func TestServeIdleWorkersEnd(t *testing.T) {
	var p Pool
	before := settled(t)
	burst(&p, 20)
	if n := runtime.NumGoroutine(); n < before+20 {
		t.Fatalf("%d goroutines after 20 requests at once, %d before: want their 20 workers", n, before)
	}
	if n := settled(t); n > before {
		t.Fatalf("%d goroutines, %d before the requests: idle workers did not end", n, before)
	}
}

// TestServeBusyWorkerStays: a worker that gets a request every quarter idle
// timeout goes on serving them for longer than the timeout, its timer
// restarted with each.
func TestServeBusyWorkerStays(t *testing.T) {
	defer func(d int64) { idleTimeout.Store(d) }(idleTimeout.Load())
	idleTimeout.Store(int64(time.Second)) // a margin for a loaded machine
	var p Pool
	var ids []string
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ids = append(ids, goid()) })
	for range 6 {
		w, r := request()
		p.Serve(h, w, r, nil)
		time.Sleep(time.Duration(idleTimeout.Load()) / 4) // 1.5 timeouts in all
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("served on goroutines %v: want the one worker throughout", ids)
		}
	}
}

// TestServeBurstWorkersEnd: after a burst, requests one at a time go to the
// most recently idle worker, so the others go idle for the idle timeout and
// end, however often the requests come.
func TestServeBurstWorkersEnd(t *testing.T) {
	var p Pool
	before := settled(t)
	burst(&p, 50)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for end := time.Now().Add(5 * time.Duration(idleTimeout.Load())); time.Now().Before(end); {
		w, r := request()
		p.Serve(h, w, r, nil)
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines, %d before the burst: the burst's workers still serve in turn", n, before)
	}
}

// TestServeGoexitThenPanic: a handler that calls runtime.Goexit and panics
// in one of its deferred calls still ends the calling goroutine, which
// reports the panic, rather than leave it waiting.
func TestServeGoexitThenPanic(t *testing.T) {
	var p Pool
	raised, _ := serveAside(t, &p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		defer panic("late")
		runtime.Goexit()
	}))
	if raised != "late" {
		t.Fatalf("raised %v, want the deferred call's panic", raised)
	}
}

// TestServeIdleBeforeReturn: when Serve returns, its worker waits among the
// idle already, for the next request the caller may serve at once.
func TestServeIdleBeforeReturn(t *testing.T) {
	var p Pool
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for i := range 2000 {
		w, r := request()
		p.Serve(h, w, r, nil)
		p.mu.Lock()
		n := len(p.idle)
		p.mu.Unlock()
		if n != 1 {
			t.Fatalf("request %d: %d idle workers when Serve returned, want 1", i, n)
		}
	}
}

// TestServeTakenAsItTimesOut: a worker whose idle timeout passes as a Serve
// takes it serves that request rather than end and leave it waiting.
func TestServeTakenAsItTimesOut(t *testing.T) {
	defer func(d int64) { idleTimeout.Store(d) }(idleTimeout.Load())
	idleTimeout.Store(int64(20 * time.Microsecond))
	var p Pool
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5000 {
			w, r := request()
			p.Serve(h, w, r, nil)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a request waits for ever")
	}
}

// workers counts the goroutines in a Pool's work.
func workers() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "stack.(*Pool).work(")
}

// waitWorkers waits up to 5 s for the process to have want workers.
func waitWorkers(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for workers() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d workers, want %d", what, workers(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPoolClose: Close ends the idle workers at once, and a busy one once its
// request is served; Serve goes on working after it, each request on a
// worker that ends with it.
func TestPoolClose(t *testing.T) {
	waitWorkers(t, 0, "the other tests' workers, under the short timeout")
	defer func(d int64) { idleTimeout.Store(d) }(idleTimeout.Load())
	idleTimeout.Store(int64(time.Hour))
	var p Pool
	others, release := make(chan struct{}), make(chan struct{})
	wg := start(&p, 11, func(i int) {
		if i == 0 {
			<-release // busy through Close
		} else {
			<-others
		}
	})
	waitWorkers(t, 11, "before Close")
	close(others)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.idle)
		p.mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want 10", n)
		}
		time.Sleep(time.Millisecond)
	}
	p.Close()
	waitWorkers(t, 1, "after Close, one request still served")
	close(release)
	wg.Wait()
	waitWorkers(t, 0, "after its request")
	mustServe(t, &p, "after Close")
	waitWorkers(t, 0, "after a request served after Close")
}
