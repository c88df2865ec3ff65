package h1wire

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/windhover/windhover/internal/testserver"
)

// TestConnSize keeps a Conn within the 512-byte size class: one is held for
// every connection the server keeps open, idle ones included
// (BenchmarkIdleConnections in benchmarks/).
func TestConnSize(t *testing.T) {
	testserver.SizeAtMost(t, "a Conn", unsafe.Sizeof(Conn{}), 512)
}

// TestAddNanos holds the timers' deadlines, kept as nanoseconds, to time's
// own arithmetic, saturating where it would wrap and never 0 (no deadline).
func TestAddNanos(t *testing.T) {
	for _, tc := range []struct {
		at   int64
		d    time.Duration
		want int64
	}{
		{at: 100, d: 5 * time.Second, want: 100 + int64(5*time.Second)},
		{at: 0, d: 0, want: 1},
		{at: math.MaxInt64 - 10, d: time.Hour, want: math.MaxInt64},
		{at: math.MaxInt64 - 10, d: math.MaxInt64, want: math.MaxInt64},
		{at: math.MinInt64 + 10, d: -time.Hour, want: math.MinInt64},
		{at: 7, d: -7, want: 1},
	} {
		if got := addNanos(tc.at, tc.d); got != tc.want {
			t.Errorf("addNanos(%d, %v) = %d, want %d", tc.at, tc.d, got, tc.want)
		}
	}
	// A deadline an hour from now, kept, is the time an hour from now.
	at := now()
	if got, want := fromNanos(addNanos(at, time.Hour)), fromNanos(at).Add(time.Hour); !got.Equal(want) {
		t.Errorf("an hour on: %v, want %v", got, want)
	}
}
