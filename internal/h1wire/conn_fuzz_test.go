package h1wire

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// chunkConn returns its stream in reads of the sizes given, then io.EOF.
type chunkConn struct {
	loopConn
	stream []byte
	sizes  []byte
	k      int
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	n := len(b)
	if len(c.sizes) > 0 {
		if sz := int(c.sizes[c.k%len(c.sizes)]); sz > 0 && sz < n {
			n = sz
		}
		c.k++
	}
	n = copy(b[:n], c.stream)
	c.stream = c.stream[n:]
	return n, nil
}

// FuzzConn reads streams through a Conn in reads of random sizes, one-byte
// reads (net/http's background read) among them, and checks that the bytes
// come out as they went in, up to where the Conn fails reads.
func FuzzConn(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s), []byte{}, []byte{})
		f.Add([]byte(s), []byte{5, 1, 200}, []byte{1, 0, 3})
	}
	f.Fuzz(func(t *testing.T, stream, sizes, reads []byte) {
		under := &chunkConn{stream: stream, sizes: sizes}
		c := New(Config{}).Conn(under)
		var got []byte
		buf := make([]byte, 4096)
		for k := 0; ; k++ {
			n := len(buf)
			if len(reads) > 0 {
				if r := int(reads[k%len(reads)]); r > 0 {
					n = r
				}
			}
			m, err := c.Read(buf[:n])
			got = append(got, buf[:m]...)
			if err != nil {
				break
			}
			if m == 0 && n > 0 {
				t.Fatalf("read %d of %d bytes and no error", m, n)
			}
		}
		if !bytes.HasPrefix(stream, got) {
			t.Fatalf("read %q\nof %q", got, stream)
		}
	})
}

var _ net.Conn = (*chunkConn)(nil)
