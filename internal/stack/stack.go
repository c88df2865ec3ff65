// Package stack grows a goroutine's stack to the size windhover's handler
// chain needs in one step, while the stack is still shallow.
//
// net/http serves each HTTP/2 stream (and quic-go each HTTP/3 stream) on a
// new goroutine, whose stack starts small. The composed policies need about
// 8 KiB under the application's handler, so without help the stack grows
// twice or three times on every request, each time deep in the chain, where
// the runtime copies every frame and adjusts its pointers: measured over
// h2c (benchmarks' BenchmarkStack/loopback-h2c), that copying was 6% of the
// server's CPU, most of it in the ServeMux at the bottom of the chain. One
// growth at the top, with a handful of frames on the stack, costs a small
// part of that.
package stack

// Grow makes sure the calling goroutine has about 4 KiB of stack free below
// its caller, growing the stack once if it has not.
//
//go:noinline
func Grow() {
	var b [4 << 10]byte
	use(b[:])
}

// use keeps b, so that Grow's frame is not optimised away.
//
//go:noinline
func use(b []byte) { _ = b[len(b)-1] }
