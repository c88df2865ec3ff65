package h1wire

import (
	"bytes"
	"encoding/binary"
)

// byteClass marks the bytes of the classes below.
type byteClass uint8

const (
	classToken     byteClass = 1 << iota // tchar, RFC 9110 section 5.6.2
	classHost                            // Kestrel's host name bytes
	classAuthority                       // Kestrel's authority-form bytes
)

var classes = func() (t [256]byteClass) {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for _, c := range []byte(alnum + "!#$%&'*+-.^_`|~") {
		t[c] |= classToken
	}
	// HttpCharacters in ASP.NET Core: host names match Http.Sys, which takes
	// RFC 3986's reg-name without "*+,;=" and percent-encoding; the
	// authority form takes letters, digits and ":.-[]@".
	for _, c := range []byte(alnum + "!$&'()-._~") {
		t[c] |= classHost
	}
	for _, c := range []byte(alnum + ":.-[]@") {
		t[c] |= classAuthority
	}
	return t
}()

func isTokenByte(c byte) bool { return classes[c]&classToken != 0 }

// isAuthority reports whether s holds only the bytes Kestrel allows in an
// authority-form target (HttpCharacters.ContainsInvalidAuthorityChar).
func isAuthority(s []byte) bool {
	for _, c := range s {
		if classes[c]&classAuthority == 0 {
			return false
		}
	}
	return true
}

// validHost reports whether Kestrel accepts h as a Host value
// (HttpUtilities.IsHostHeaderValid): empty; or a name of host bytes; or a
// bracketed IPv6 literal of hex digits, colons and dots, at least "[::1]";
// either followed by an optional colon and at least one digit.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return true
	}
	i := 0
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 4 {
			return false
		}
		for _, c := range h[1:end] {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		i = end + 1
	} else {
		for i < len(h) && classes[h[i]]&classHost != 0 {
			i++
		}
		if i == 0 {
			// Nothing before the first other byte: ":80" is only a port.
			return false
		}
	}
	if i == len(h) {
		return true
	}
	return h[i] == ':' && isPort(h[i+1:])
}

// isPort reports whether p is one or more decimal digits.
func isPort(p []byte) bool {
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(p) > 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

// authority returns the authority of an absolute-form target that starts
// with "http://" or "https://", without its userinfo, as System.Uri's
// Authority has it (before Uri's normalisation).
func authority(target []byte) []byte {
	a := target[bytes.Index(target, []byte("//"))+2:]
	if i := bytes.IndexAny(a, "/?#"); i >= 0 {
		a = a[:i]
	}
	if i := bytes.LastIndexByte(a, '@'); i >= 0 {
		a = a[i+1:]
	}
	return a
}

// sameAuthority reports whether Kestrel takes host, the Host field, for the
// authority a of an absolute-form target: the same name and port, where a
// default port (80 for http, 443 for https) may be named or left out on
// either side. Names compare case-insensitively; Kestrel compares them after
// System.Uri has lower-cased the target's, so that it refuses a mixed-case
// Host there.
func sameAuthority(host, a []byte, https bool) bool {
	def := "80"
	if https {
		def = "443"
	}
	hn, hp := splitPort(host)
	an, ap := splitPort(a)
	if len(an) == 0 || !equalFoldBytes(hn, an) {
		return false
	}
	return samePort(hp, ap, def)
}

// splitPort splits an authority into its host and port (nil if none).
func splitPort(a []byte) (host, port []byte) {
	i := bytes.LastIndexByte(a, ':')
	if i < 0 || bytes.IndexByte(a[i:], ']') >= 0 {
		return a, nil
	}
	return a[:i], a[i+1:]
}

// samePort compares two ports, either possibly absent (the default).
func samePort(p, q []byte, def string) bool {
	if p == nil {
		p = []byte(def)
	}
	if q == nil {
		q = []byte(def)
	}
	return isPort(p) && isPort(q) && bytes.Equal(bytes.TrimLeft(p, "0"), bytes.TrimLeft(q, "0"))
}

// lower returns c in lower case if it is an ASCII letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals lowerName, a lower-case string of
// letters and dashes, ignoring the case of letters. It compares eight or
// four bytes at a time, each with its 0x20 bit set, which folds a letter to lower case
// and leaves a dash alone (and takes a CR for a dash, in a field name net/http
// refuses anyway).
func equalFold(b []byte, lowerName string) bool {
	if len(b) != len(lowerName) {
		return false
	}
	const fold = 0x2020202020202020
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)|fold != binary.LittleEndian.Uint64([]byte(lowerName[:8])) {
			return false
		}
		b, lowerName = b[8:], lowerName[8:]
	}
	if len(b) >= 4 {
		if binary.LittleEndian.Uint32(b)|fold&0xffffffff != binary.LittleEndian.Uint32([]byte(lowerName[:4])) {
			return false
		}
		b, lowerName = b[4:], lowerName[4:]
	}
	for i, c := range b {
		if c|0x20 != lowerName[i] {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i, c := range a {
		if lower(c) != lower(b[i]) {
			return false
		}
	}
	return true
}

// trim returns s without leading and trailing spaces and tabs, as net/http's
// textproto trims a field value.
func trim(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return trimRight(s)
}

func trimRight(s []byte) []byte {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// trimSpace trims as textproto.TrimString: spaces, tabs, CRs and LFs.
func trimSpace(s []byte) []byte {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
