package tracer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake replaces detection with a counter of lookups and a given answer.
func fake(t *testing.T, answer *atomic.Bool) *atomic.Int64 {
	var looks atomic.Int64
	old := detect
	detect = func() bool { looks.Add(1); return answer.Load() }
	checked.Store(0)
	t.Cleanup(func() { detect = old; checked.Store(0); attached.Store(false) })
	return &looks
}

// The process is looked at once an Interval, whatever the number of callers.
func TestAttachedLooksAtMostOnceAnInterval(t *testing.T) {
	var answer atomic.Bool
	answer.Store(true)
	looks := fake(t, &answer)
	for range 1000 {
		if !Attached() {
			t.Fatal("not attached")
		}
	}
	answer.Store(false)
	if !Attached() {
		t.Fatal("the answer changed within the interval")
	}
	if n := looks.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
	checked.Store(-int64(Interval)) // an interval ago, and more
	if Attached() {
		t.Fatal("the new answer was not read after the interval")
	}
	if n := looks.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

// Callers that come while the process is being looked at wait for the
// answer: none takes the stale one (the first answer, when there was none,
// is false).
func TestAttachedConcurrentFirstLook(t *testing.T) {
	var answer atomic.Bool
	answer.Store(true)
	looks := fake(t, &answer)
	slow := detect
	detect = func() bool { time.Sleep(50 * time.Millisecond); return slow() }
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range 8 {
		wg.Go(func() {
			if !Attached() {
				wrong.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() != 0 || looks.Load() != 1 {
		t.Fatalf("%d callers got the stale answer; %d lookups, want 1", wrong.Load(), looks.Load())
	}
}

func TestAttachedAllocs(t *testing.T) {
	Attached()
	if n := testing.AllocsPerRun(100, func() { Attached() }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkAttached(b *testing.B) {
	Attached()
	b.ReportAllocs()
	for b.Loop() {
		Attached()
	}
}
