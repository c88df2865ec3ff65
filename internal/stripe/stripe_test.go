package stripe

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestCounterSums: concurrent adds from many requests, each +1 and then -1
// in one cell, or +1 alone, sum exactly; the cells sit on lines of their
// own.
func TestCounterSums(t *testing.T) {
	var c, gauge Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				i := Here()
				c.Add(Here(), 1)
				gauge.Add(i, 1)
				runtime.Gosched() // perhaps to another processor
				gauge.Add(i, -1)
			}
		})
	}
	wg.Wait()
	if got := c.Load(); got != 8000 {
		t.Errorf("counted %d, want 8000", got)
	}
	for i := range Cells {
		if got := gauge.Cell(i); got != 0 {
			t.Errorf("gauge's cell %d at %d after every +1 had its -1 there, want 0", i, got)
		}
	}
	if size := unsafe.Sizeof(cell{}); size != CellSize {
		t.Errorf("a cell takes %d bytes, want %d", size, CellSize)
	}
}

// TestHereFollowsProcessor: the cell is the processor's. With one
// processor every goroutine gets cell 0; with two, two goroutines running at
// once get different cells.
func TestHereFollowsProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if got := Here(); got != 0 {
					t.Errorf("with one processor, Here() = %d, want 0", got)
					return
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()

	runtime.GOMAXPROCS(2)
	var arrived atomic.Int32
	var seen [2]atomic.Int32 // each goroutine's last cell, plus one
	var stop, distinct atomic.Bool
	deadline := time.Now().Add(5 * time.Second)
	for g := range 2 {
		wg.Go(func() {
			// Spin until both run: each then holds a processor.
			arrived.Add(1)
			for arrived.Load() < 2 {
			}
			for !stop.Load() {
				seen[g].Store(int32(Here()) + 1)
				a, b := seen[0].Load(), seen[1].Load()
				if a != 0 && b != 0 && a != b {
					distinct.Store(true)
					stop.Store(true)
				}
				if time.Now().After(deadline) {
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if !distinct.Load() {
		t.Errorf("two goroutines running at once on two processors always got the same cell (%d)", seen[0].Load()-1)
	}
}

// byAddress is how cells were picked before Here: by a hash of the
// request's address. BenchmarkCounter measures against it.
func byAddress(r *http.Request) int {
	const golden = 0x9e3779b97f4a7c15
	return int(uint64(uintptr(unsafe.Pointer(r))) * golden >> (64 - 3))
}

// counters stand for the striped counters a request passes through in
// windhover.Harden's composition (graceful, metrics, hostfilter, timeouts,
// the rate limiter's read locks): a dozen.
var counters [12]Counter

// BenchmarkCounter measures a request's dozen gauge adds (+1 on arrival, -1
// on the way out, some work between) on every core at once, each request a
// new object as a server's are, with the cell picked by the request's
// address or by the processor.
func BenchmarkCounter(b *testing.B) {
	for _, arm := range []string{"address", "processor"} {
		b.Run(arm, func(b *testing.B) {
			// Each goroutine's requests, made before the timer starts.
			sets := make([][]http.Request, runtime.GOMAXPROCS(0))
			for i := range sets {
				sets[i] = make([]http.Request, 1024)
			}
			var next atomic.Int32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				reqs := sets[next.Add(1)-1]
				n := 0
				for pb.Next() {
					r := &reqs[n%len(reqs)]
					n++
					var i int
					if arm == "address" {
						i = byAddress(r)
					} else {
						i = Here()
					}
					for k := range counters {
						counters[k].Add(i, 1)
					}
					work(n)
					for k := range counters {
						counters[k].Add(i, -1)
					}
				}
			})
		})
	}
}

var sink int

// work stands for a request's other work between its adds.
func work(n int) {
	x := 0
	for j := range 200 {
		x += j * n
	}
	if x == 1 {
		sink = x
	}
}
