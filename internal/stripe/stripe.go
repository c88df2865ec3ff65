// Package stripe holds the statistics counters that every request adds to,
// spread over several cache lines so that requests on different cores do not
// contend for one.
//
// An atomic add to a counter that another core wrote last must first take
// the cache line from that core: measured in-process with two cores serving
// at once (benchmarks' BenchmarkStack/in-process/get/parallel), the dozen
// shared counters a request passes through cost more than the rest of the
// policies' work. A [Counter] has a cell for each processor that runs Go
// code (the runtime's P, up to [Cells] of them), so that a core finds the
// line it adds to in its own cache, where the last request it served left
// it; reading it sums the cells.
//
// Cells were once picked by the request's address. Two requests in flight
// at once then most often wrote different lines, but each request's cell was
// a new draw, last written by whichever core served the request before: a
// server whose requests are new objects missed the cache on most of its
// adds (BenchmarkCounter, a request's dozen +1 and -1 with both of two cores
// busy: 175 ns by address, 104 ns by processor).
//
// [Here] finds the processor with runtime.procPin, which the runtime keeps
// reachable by linkname for the packages that use it (go.dev/issue/67401).
package stripe

import (
	"sync/atomic"
	_ "unsafe" // go:linkname
)

// Cells is how many cells a Counter has. With more processors than cells,
// processors whose numbers differ by a multiple of Cells share one.
const Cells = 8

// CellSize keeps each cell on lines of its own: 128 bytes, since x86's
// adjacent-line prefetcher fetches lines in pairs.
const CellSize = 128

// Counter is a sum that many goroutines add to at once. Its zero value is 0
// and ready to use; it must not be copied after first use.
//
// Its first CellSize bytes are padding: the processor that adds to cell 0
// does so for every request it serves, and would otherwise keep taking the
// line, or its pair, that holds the fields before the Counter (a policy's
// settings, which every request reads) from the other cores.
type Counter struct {
	_ [CellSize]byte
	c [Cells]cell
}

type cell struct {
	n atomic.Int64
	_ [CellSize - 8]byte
}

// Add adds d to cell i, from [Here]. A gauge's +1 and -1 for one request
// must go to the same cell, kept between them (the goroutine may have moved
// to another processor): Load reads the cells one after another, and could
// see a -1 in one cell without the +1 made earlier in another.
func (c *Counter) Add(i int, d int64) {
	c.c[uint(i)%Cells].n.Add(d)
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

// Here returns the cell, below Cells, of the processor the calling
// goroutine runs on. The goroutine may move to another processor at any
// time: the cell is where its next adds most likely find their line, and
// any cell is correct.
func Here() int {
	p := procPin()
	procUnpin()
	return int(uint(p) % Cells)
}

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()
