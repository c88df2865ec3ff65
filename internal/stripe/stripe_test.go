package stripe

import (
	"net/http"
	"sync"
	"testing"
	"unsafe"
)

// TestCounterSums: concurrent adds from many requests, each +1 and then -1
// or +1 alone, sum exactly.
func TestCounterSums(t *testing.T) {
	var c, gauge Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				r := new(http.Request)
				c.Add(r, 1)
				gauge.Add(r, 1)
				gauge.Add(r, -1)
			}
		})
	}
	wg.Wait()
	if got := c.Load(); got != 8000 {
		t.Errorf("counted %d, want 8000", got)
	}
	if got := gauge.Load(); got != 0 {
		t.Errorf("gauge at %d after every +1 had its -1, want 0", got)
	}
}

// TestIndexSpreads: requests allocated one after another use every cell,
// none of them much more than its share, and the cells sit on lines of
// their own.
func TestIndexSpreads(t *testing.T) {
	var n [Cells]int
	const requests = 8000
	keep := make([]*http.Request, requests)
	for i := range keep {
		keep[i] = new(http.Request)
		n[Index(keep[i])]++
	}
	for i, got := range n {
		if got < requests/Cells/2 || got > requests/Cells*2 {
			t.Errorf("cell %d got %d of %d requests, want about %d", i, got, requests, requests/Cells)
		}
	}
	if size := unsafe.Sizeof(cell{}); size != CellSize {
		t.Errorf("a cell takes %d bytes, want %d", size, CellSize)
	}
}
