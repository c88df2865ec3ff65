package limits

import (
	"testing"
	"unsafe"

	"github.com/windhover/windhover/internal/testserver"
)

// TestConnWrapperSize keeps the connection wrapper in the 64-byte size
// class: one is held for every open connection, idle ones included
// (BenchmarkIdleConnections in benchmarks/), and a per-client slot is
// allocated apart, only under MaxConnectionsPerClient.
func TestConnWrapperSize(t *testing.T) {
	testserver.SizeAtMost(t, "the connection wrapper", unsafe.Sizeof(conn{}), 64)
}
