// Package stripe holds the statistics counters that every request adds to,
// spread over several cache lines so that requests on different cores do not
// contend for one.
//
// An atomic add to a counter that another core wrote last must first take
// the cache line from that core: measured in-process with two cores serving
// at once (benchmarks' BenchmarkStack/in-process/get/parallel), the dozen
// shared counters a request passes through cost more than the rest of the
// policies' work. A [Counter] gives each request one of its cells, picked by
// the request's address, so that two requests in flight at once most often
// write different lines; reading it sums the cells.
package stripe

import (
	"net/http"
	"sync/atomic"
	"unsafe"
)

// Cells is how many cells a Counter has, and how many ways [Index] picks
// from. With two cores, two requests share a cell one time in eight.
const Cells = 1 << log2Cells

// log2Cells is the bits of an index, taken from the top of a 64-bit hash.
const log2Cells = 3

// CellSize keeps each cell on lines of its own: 128 bytes, since x86's
// adjacent-line prefetcher fetches lines in pairs.
const CellSize = 128

// Counter is a sum that many goroutines add to at once. Its zero value is 0
// and ready to use; it must not be copied after first use.
type Counter struct {
	c [Cells]cell
}

type cell struct {
	n atomic.Int64
	_ [CellSize - 8]byte
}

// Add adds d to the cell of r. A gauge's +1 and -1 for one request must name
// the same request: Load reads the cells one after another, and could see a
// -1 in one cell without the +1 made earlier in another.
func (c *Counter) Add(r *http.Request, d int64) {
	c.c[Index(r)].n.Add(d)
}

// Load returns the sum of the cells. Adds that run at the same time may or
// may not be in it, each one whole.
func (c *Counter) Load() int64 {
	var n int64
	for i := range c.c {
		n += c.c[i].n.Load()
	}
	return n
}

// Cell returns cell i's part of the sum, for a test to see where adds went.
func (c *Counter) Cell(i int) int64 { return c.c[i].n.Load() }

// Index picks one of Cells cells for r: a multiplicative hash of its
// address, whose top bits mix all of the address's, so that requests in
// flight at once, each its own object, mostly get different cells.
func Index(r *http.Request) int {
	const golden = 0x9e3779b97f4a7c15
	return int(uint64(uintptr(unsafe.Pointer(r))) * golden >> (64 - log2Cells))
}
