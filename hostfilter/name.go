package hostfilter

// maxName is the longest host name without its trailing dot (RFC 1035's
// 255-byte wire form), and maxLabel the longest label.
const (
	maxName  = 253
	maxLabel = 63
)

// nameBytes maps each byte a host name may hold to its lower-case form, and
// every other byte to 0. Beyond RFC 1123's letters, digits and hyphens it
// admits the underscore, which real internal names carry (service records,
// container names) and which IDNA without the STD3 rules keeps too.
var nameBytes = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	t['-'], t['_'], t['.'] = '-', '_', '.'
	return t
}()

// lowerName checks that name (without port or trailing dot) is a host name:
// 1 to 253 bytes of labels of 1 to 63 bytes, each of letters, digits,
// hyphens and underscores. It writes the lower-case form to buf and returns
// its length, or -1 if name is malformed. numeric reports that the last label
// is a number (digits, or 0x and hex digits), which makes the name an IPv4
// address to a URL parser (WHATWG's "ends in a number"), so it must be one.
func lowerName(buf *[maxName]byte, name string) (n int, numeric bool) {
	if len(name) == 0 || len(name) > maxName {
		return -1, false
	}
	label := 0 // start of the current label
	for i := 0; i < len(name); i++ {
		c := nameBytes[name[i]]
		switch c {
		case 0:
			return -1, false
		case '.':
			if i == label || i-label > maxLabel {
				return -1, false
			}
			label = i + 1
		}
		buf[i] = c
	}
	if label == len(name) || len(name)-label > maxLabel {
		return -1, false
	}
	return len(name), isNumber(buf[label:len(name)])
}

// isNumber reports whether label, in lower case, reads as a number in a
// URL's IPv4 host: decimal digits, or 0x followed by hex digits.
func isNumber[S ~string | ~[]byte](label S) bool {
	if len(label) >= 2 && label[0] == '0' && label[1] == 'x' {
		for i := 2; i < len(label); i++ {
			if c := label[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validPort reports whether s, what follows a host, is empty or a port: a
// colon and at most five digits up to 65535. RFC 3986 allows the empty port
// of "example.com:".
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) > 6 {
		return false
	}
	n := 0
	for _, c := range []byte(s[1:]) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
