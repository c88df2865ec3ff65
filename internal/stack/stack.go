// Package stack serves the requests that come on a new goroutine each
// (HTTP/2 and HTTP/3 streams) on goroutines whose stacks have grown already.
//
// net/http serves each HTTP/2 stream (and quic-go each HTTP/3 stream) on a
// new goroutine, whose stack starts small (2 KiB, or the average the
// runtime saw at the last collection). The composed policies need about
// 8 KiB under the application's handler, so the stack grows on every
// request, and growing it costs the copying of every frame on it, the
// adjusting of their pointers and the allocation of the new stack from a
// pool under a lock that the two processors of a busy server contend for.
// Growing it once at the top of the chain, where few frames are on it, cost
// about 9% of examples/server's CPU under h2load (16 streams on each of 16
// connections, 2026-12-08), 4.6 us a request where bare net/http, whose
// ServeMux makes the stack grow, spent 2.1 us. [Pool.Serve] hands the
// request to a worker instead, a goroutine that serves one request after
// another with the stack it grew for the first: the handover costs two
// goroutine switches, which the same measurement puts well below the growth
// (see the README's "Cost").
package stack

// Grow makes sure the calling goroutine has about 4 KiB of stack free below
// its caller, growing the stack once, while it is shallow, if it has not: for
// a request served on its stream's goroutine after all (a Server's
// Config.StreamGoroutines), the growth then costs less than it does deep in
// the chain.
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
