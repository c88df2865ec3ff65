package limits

import (
	"testing"
	"unsafe"
)

// TestConnWrapperSize keeps the connection wrapper in the 64-byte size
// class: one is held for every open connection, idle ones included
// (BenchmarkIdleConnections in benchmarks/), and a per-client slot is
// allocated apart, only under MaxConnectionsPerClient.
func TestConnWrapperSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(conn{}); n > 64 {
		t.Errorf("the connection wrapper takes %d bytes, more than 64", n)
	}
}
