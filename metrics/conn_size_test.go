package metrics

import (
	"testing"
	"unsafe"

	"github.com/windhover/windhover/internal/testserver"
)

// TestConnRecordSize keeps metrics' record of a connection in the 96-byte
// size class: one is held for every open connection, idle ones included
// (BenchmarkIdleConnections in benchmarks/).
func TestConnRecordSize(t *testing.T) {
	testserver.SizeAtMost(t, "a connection's record", unsafe.Sizeof(conn{}), 96)
}
