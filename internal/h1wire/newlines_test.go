package h1wire

import (
	"math/rand/v2"
	"testing"
)

// TestNewlines holds newlines, and its Go version, to a byte-by-byte count.
func TestNewlines(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b [64]byte
	for n := range 20000 {
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = '\n'
			case 1:
				b[i] = byte(r.IntN(256))
			case 2:
				// The bytes next to LF that a borrow would reach.
				b[i] = []byte{0x0b, 0x09, 0x8a, 0x0a ^ 0x80, 0x00, 0xff}[r.IntN(6)]
			default:
				b[i] = "GET / HTTP/1.1\r\n"[r.IntN(16)]
			}
		}
		if n == 0 {
			b = [64]byte{}
		}
		checkNewlines(t, &b)
	}
	for i := range b {
		b[i] = '\n'
	}
	checkNewlines(t, &b)
}

// FuzzNewlines holds newlines to a byte-by-byte count on any 64 bytes.
func FuzzNewlines(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("\n\x0b\x09\x8a\x00\xff\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var b [64]byte
		copy(b[:], in)
		checkNewlines(t, &b)
	})
}

func checkNewlines(t *testing.T, b *[64]byte) {
	t.Helper()
	var want uint64
	for i, c := range b {
		if c == '\n' {
			want |= 1 << i
		}
	}
	if got := newlines(b); got != want {
		t.Fatalf("newlines(%q) = %#x, want %#x", b[:], got, want)
	}
	if got := newlinesGo(b); got != want {
		t.Fatalf("newlinesGo(%q) = %#x, want %#x", b[:], got, want)
	}
}
