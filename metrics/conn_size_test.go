package metrics

import (
	"testing"
	"unsafe"
)

// TestConnRecordSize keeps metrics' record of a connection in the 128-byte
// size class: one is held for every open connection, idle ones included
// (BenchmarkIdleConnections in benchmarks/).
func TestConnRecordSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(conn{}); n > 128 {
		t.Errorf("a connection's record takes %d bytes, more than 128", n)
	}
}
