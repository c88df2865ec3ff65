package testserver

import (
	"testing"
	"unsafe"
)

// SizeAtMost fails t if size, what unsafe.Sizeof gives for what, is more
// than max bytes: a guard on a struct the server holds one of per
// connection or per request, kept within its allocation size class. The
// sizes are those of 64-bit platforms; elsewhere it skips.
func SizeAtMost(t testing.TB, what string, size, max uintptr) {
	t.Helper()
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if size > max {
		t.Errorf("%s takes %d bytes, more than %d", what, size, max)
	}
}
