package h1wire

import "testing"

// TestFieldLinesPastLen cuts a head at every byte: the field lines are
// looked for 64 bytes at a time, past the end of the bytes read when the
// array goes on, and the bytes past it (a line's end, the blank line) must
// count only once they are read; a piece whose array ends with it is looked
// at through a copy.
func TestFieldLinesPastLen(t *testing.T) {
	s := New(Config{}).s
	whole := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9\r\n\r\n")
	for cut := 1; cut < len(whole); cut++ {
		for _, capped := range []bool{false, true} {
			p := parser{s: &s, fresh: true}
			first := whole[:cut]
			if capped {
				first = whole[:cut:cut]
			}
			if n, ev := p.feed(first); ev != evMore || n != cut {
				t.Fatalf("cut %d, capped %v: first piece: %d, %v; want %d, evMore", cut, capped, n, ev, cut)
			}
			if n, ev := p.feed(whole[cut:]); ev != evEnd || n != len(whole)-cut {
				t.Fatalf("cut %d, capped %v: second piece: %d, %v; want %d, evEnd", cut, capped, n, ev, len(whole)-cut)
			}
			if p.fields != 0 || p.st != stStart {
				t.Fatalf("cut %d, capped %v: parser not reset: %d fields, state %d", cut, capped, p.fields, p.st)
			}
		}
	}
}
