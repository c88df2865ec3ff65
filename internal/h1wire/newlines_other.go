//go:build !amd64 || purego

package h1wire

// newlines returns the positions of the LF bytes in b, bit k set where
// b[k] is '\n'.
func newlines(b *[64]byte) uint64 { return newlinesGo(b) }
