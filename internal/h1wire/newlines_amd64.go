//go:build amd64 && !purego

package h1wire

// newlines returns the positions of the LF bytes in b, bit k set where
// b[k] is '\n': the lines of a head are found 64 bytes at a time, with
// SSE2 (every amd64 has it) rather than one bytes.IndexByte call a line,
// whose cost in calls and latency is most of a head's.
//
//go:noescape
func newlines(b *[64]byte) uint64
