package hostfilter

import (
	"net/netip"
	"slices"
	"strings"
)

// matcher holds the allowed patterns, precomputed so that a host is matched
// in time that does not grow with their number and without allocating.
type matcher struct {
	any      bool                      // "*": every well-formed host
	names    map[string]struct{}       // exact names, lower case, no trailing dot
	suffixes map[string]struct{}       // "*.example.com" as ".example.com"
	longest  int                       // the length of the longest suffix
	prefixes map[netip.Prefix]struct{} // addresses and CIDR prefixes, unmapped and masked
	bits4    []int                     // the IPv4 prefix lengths in prefixes, longest first
	bits6    []int                     // the IPv6 ones
}

// accepted is the verdict of a host that passes; every other verdict is the
// Reason it fails.
const accepted Reason = 255

func (m *matcher) add(p pattern) {
	switch p.kind {
	case patternAny:
		m.any = true
	case patternName:
		m.names[p.name] = struct{}{}
	case patternWildcard:
		m.suffixes[p.name] = struct{}{}
		m.longest = max(m.longest, len(p.name))
	case patternPrefix:
		m.prefixes[p.prefix] = struct{}{}
		bits := &m.bits6
		if p.prefix.Addr().Is4() {
			bits = &m.bits4
		}
		if !slices.Contains(*bits, p.prefix.Bits()) {
			*bits = append(*bits, p.prefix.Bits())
			slices.Sort(*bits)
			slices.Reverse(*bits)
		}
	}
}

// match judges host, a Host value as received: empty, a name or an IPv4
// address, or a bracketed IPv6 address, each with an optional port.
func (m *matcher) match(host string) Reason {
	if host == "" {
		return ReasonEmptyHost
	}
	if host[0] == '[' {
		end := strings.IndexByte(host, ']')
		if end < 0 || !validPort(host[end+1:]) {
			return ReasonMalformedHost
		}
		return m.matchIPv6(host[1:end])
	}
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		name = host[:i]
		if !validPort(host[i:]) || strings.IndexByte(name, ':') >= 0 {
			// An unbracketed IPv6 address, or a port that is no port.
			return ReasonMalformedHost
		}
	}
	if name != "" && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	var buf [maxName]byte
	n, numeric := lowerName(&buf, name)
	if n < 0 {
		return ReasonMalformedHost
	}
	if numeric {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is4() {
			return ReasonMalformedHost
		}
		return m.matchAddr(a)
	}
	if m.any {
		return accepted
	}
	lower := buf[:n]
	if _, ok := m.names[string(lower)]; ok {
		return accepted
	}
	if len(m.suffixes) > 0 {
		// Every suffix that starts at a dot leaves at least one whole,
		// non-empty label before it: lowerName refused empty labels. Only
		// suffixes as long as a pattern's are looked up, so that a host of
		// a hundred labels costs no more than one of three.
		for i := max(1, n-m.longest); i < n; i++ {
			if lower[i] == '.' {
				if _, ok := m.suffixes[string(lower[i:])]; ok {
					return accepted
				}
			}
		}
	}
	return ReasonHostNotAllowed
}

// matchIPv6 judges the inside of a bracketed IP literal.
func (m *matcher) matchIPv6(lit string) Reason {
	zone := strings.IndexByte(lit, '%')
	if zone >= 0 {
		lit = lit[:zone]
	}
	a, err := netip.ParseAddr(lit)
	if err != nil || !a.Is6() {
		return ReasonMalformedHost
	}
	if zone >= 0 {
		// RFC 6874's zone identifiers name an interface of the client's
		// host; no browser sends them and no pattern names one.
		return ReasonHostNotAllowed
	}
	if a.Is4In6() {
		// [::ffff:192.0.2.1] is 192.0.2.1 to IPv4 patterns, and still an
		// IPv6 address to IPv6 prefixes that contain it, such as ::/0.
		if v := m.matchAddr(a.Unmap()); v == accepted {
			return v
		}
	}
	return m.matchAddr(a)
}

func (m *matcher) matchAddr(a netip.Addr) Reason {
	if m.any {
		return accepted
	}
	bits := m.bits6
	if a.Is4() {
		bits = m.bits4
	}
	for _, b := range bits {
		p, _ := a.Prefix(b)
		if _, ok := m.prefixes[p]; ok {
			return accepted
		}
	}
	return ReasonHostNotAllowed
}

// sameHost reports whether a and b, hosts the matcher accepted, are the same
// host as the matcher sees hosts: without regard to case, the port or a
// trailing dot, and IP literals as addresses ("[::ffff:10.0.0.1]" is
// "10.0.0.1"). It does not allocate.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	an, aa := hostPart(a)
	bn, ba := hostPart(b)
	if aa.IsValid() || ba.IsValid() {
		return aa == ba
	}
	return strings.EqualFold(an, bn)
}

// hostPart returns host's name without its port and trailing dot, or, for an
// IP literal, its address, IPv4-mapped addresses unmapped.
func hostPart(host string) (string, netip.Addr) {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			if a, err := netip.ParseAddr(host[1:end]); err == nil {
				return "", a.Unmap()
			}
		}
		return host, netip.Addr{}
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	// An accepted name whose last label is a number is an IPv4 address in
	// dotted-quad form, digits only (see lowerName); asking netip about any
	// other name would cost an error value.
	if isNumber(host[strings.LastIndexByte(host, '.')+1:]) {
		if a, err := netip.ParseAddr(host); err == nil {
			return "", a
		}
	}
	return host, netip.Addr{}
}
