package limits

import (
	"net/netip"
	"strings"
)

// hops reads the client addresses of a forwarding header, X-Forwarded-For or
// Forwarded (RFC 7239), from right to left: the element the nearest proxy
// appended comes first. Reading from the right, what a client wrote at the
// left of the field cannot change how the proxies' own elements further
// right are read, not even an unbalanced quote.
//
// Empty list elements are skipped, as RFC 9110 asks. The zero hops has no
// elements. It allocates nothing.
type hops struct {
	values    []string // field lines not yet begun, read from the last
	line      string   // what is left of the line being read
	forwarded bool     // RFC 7239 syntax rather than X-Forwarded-For
}

// next returns the next address from the right. It reports false at the end
// of the field, and for an element that names no address: malformed,
// "unknown", an obfuscated identifier, or a Forwarded element without for=.
// After false, next must not be called again.
func (h *hops) next() (netip.Addr, bool) {
	for {
		for h.line == "" {
			if len(h.values) == 0 {
				return netip.Addr{}, false
			}
			h.line = h.values[len(h.values)-1]
			h.values = h.values[:len(h.values)-1]
		}
		var elem string
		var ok bool
		h.line, elem, ok = cutLastElement(h.line, h.forwarded)
		if !ok {
			return netip.Addr{}, false
		}
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		if h.forwarded {
			if elem, ok = forwardedFor(elem); !ok {
				return netip.Addr{}, false
			}
		}
		return parseNode(elem, h.forwarded)
	}
}

// cutLastElement splits s at its last comma, outside quoted strings if
// quoted is set. It reports false for a quoted string that never opens.
func cutLastElement(s string, quoted bool) (before, elem string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ',':
			return s[:i], s[i+1:], true
		case '"':
			if !quoted {
				continue
			}
			j := openingQuote(s, i)
			if j < 0 {
				return "", s, false
			}
			i = j
		}
	}
	return "", s, true
}

// openingQuote returns the index of the unescaped quote that opens the
// quoted string closed at s[end], or -1.
func openingQuote(s string, end int) int {
	for j := end - 1; j >= 0; j-- {
		if s[j] != '"' {
			continue
		}
		backslashes := 0
		for k := j - 1; k >= 0 && s[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j
		}
	}
	return -1
}

// forwardedFor returns the value of the one for= parameter of a Forwarded
// element (forwarded-pair *( ";" forwarded-pair ), whitespace around the
// semicolons tolerated), unquoted. It reports false for a malformed element,
// one without for=, or one with two.
func forwardedFor(elem string) (string, bool) {
	var node string
	found := false
	for elem != "" {
		pair := elem
		elem = ""
		if i := pairEnd(pair); i >= 0 {
			pair, elem = pair[:i], pair[i+1:]
		}
		pair = trimOWS(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		if !ok || !isToken(name) {
			return "", false
		}
		if value, ok = unquote(value); !ok {
			return "", false
		}
		if strings.EqualFold(name, "for") {
			if found {
				return "", false
			}
			node, found = value, true
		}
	}
	return node, found
}

// pairEnd returns the index of the first semicolon outside a quoted string,
// or -1.
func pairEnd(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ';':
			return i
		}
	}
	return -1
}

// unquote returns a token as it is and a quoted string's content. A node
// never needs a quoted-pair, so one is refused rather than decoded.
func unquote(v string) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '"' || c == '\\' || c < ' ' || c == 0x7f {
				return "", false
			}
		}
		return v, true
	}
	return v, isToken(v)
}

// parseNode parses a node: an IPv4 address or an IPv6 address in brackets,
// either with an optional port; in X-Forwarded-For also a bare IPv6 address.
// The port, which may be obfuscated in Forwarded, is checked and dropped.
// Addresses with a zone are refused; IPv4-mapped ones are unmapped.
func parseNode(s string, forwarded bool) (netip.Addr, bool) {
	host, port, hasPort, bracketed := s, "", false, false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port, bracketed = s[1:end], s[end+1:], true
		if port != "" {
			if port[0] != ':' {
				return netip.Addr{}, false
			}
			port, hasPort = port[1:], true
		}
	} else if colons := strings.Count(s, ":"); colons == 1 {
		host, port, hasPort = strings.Cut(s, ":")
	} else if colons > 1 && forwarded {
		return netip.Addr{}, false // RFC 7239 puts IPv6 addresses in brackets
	}
	if hasPort && !validPort(port, forwarded) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || bracketed && !a.Is6() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validPort checks a port: decimal digits for at most 65535 or, in
// Forwarded, an obfuscated port ("_" followed by letters, digits, ".", "_"
// or "-").
func validPort(p string, obfuscated bool) bool {
	if p == "" {
		return false
	}
	if obfuscated && p[0] == '_' {
		for i := 1; i < len(p); i++ {
			if c := p[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return len(p) > 1
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		if n = n*10 + int(p[i]-'0'); n > 65535 {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) {
			switch c {
			case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			default:
				return false
			}
		}
	}
	return true
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }
