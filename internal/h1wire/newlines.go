package h1wire

import "encoding/binary"

// newlinesGo is [newlines] in Go, for the platforms without an assembly
// version, and for its test: eight bytes at a time, each LF found without
// a borrow crossing bytes, the eight top bits then gathered into one byte.
func newlinesGo(b *[64]byte) uint64 {
	const (
		lf   = 0x0a0a0a0a0a0a0a0a
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	var m uint64
	for k := range 8 {
		v := binary.LittleEndian.Uint64(b[8*k:]) ^ lf
		// 0x80 in each byte of v that is zero, 0 in the others.
		t := ^((v&low7 + low7) | v | low7)
		m |= (t >> 7 * 0x0102040810204080 >> 56) << (8 * k)
	}
	return m
}
