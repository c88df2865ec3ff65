package hostfilter

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

type patternKind uint8

const (
	patternAny      patternKind = iota // "*", "[::]", "0.0.0.0"
	patternName                        // "example.com"
	patternWildcard                    // "*.example.com"
	patternPrefix                      // "10.0.0.1", "[::1]", "10.0.0.0/8"
)

// pattern is one allowed-host entry, parsed.
type pattern struct {
	kind   patternKind
	name   string // patternName: the name; patternWildcard: the suffix, ".example.com"
	prefix netip.Prefix
}

// idnaProfile converts Unicode patterns to their ASCII (punycode) form as a
// resolver would look them up (UTS #46 mapping, which also folds case), and
// checks existing "xn--" labels. It leaves the STD3 and hyphen rules to
// lowerName, which admits underscores and names such as "r3---sn.example".
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
	idna.VerifyDNSLength(true),
)

// parsePattern parses an allowed-host entry, or returns what is wrong with
// it, phrased to follow the entry.
func parsePattern(s string) (pattern, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return pattern{}, "is empty"
	case s == "*":
		return pattern{kind: patternAny}, ""
	case strings.Contains(s, "://"):
		return pattern{}, "has a scheme; give the host alone"
	case strings.Contains(s, "/"):
		return parsePrefix(s)
	case s[0] == '[':
		return parseBracketed(s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return addrPattern(a)
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if strings.IndexByte(s[i+1:], ':') >= 0 {
			return pattern{}, "is not a valid IPv6 address"
		}
		return pattern{}, "has a port; the request's port is ignored, so give the host alone"
	}
	p := pattern{kind: patternName}
	name := s
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		p.kind, name = patternWildcard, rest
	}
	if strings.Contains(name, "*") {
		return pattern{}, `may use "*" only alone or as the whole first label ("*.example.com")`
	}
	name = strings.TrimSuffix(name, ".")
	ascii, err := idnaProfile.ToASCII(name)
	if err != nil {
		return pattern{}, "is not a valid host name: " + strings.TrimPrefix(err.Error(), "idna: ")
	}
	var buf [maxName]byte
	n, numeric := lowerName(&buf, ascii)
	if n < 0 {
		return pattern{}, "is not a valid host name (labels of 1 to 63 letters, digits, '-' or '_', at most 253 bytes)"
	}
	if numeric {
		if p.kind == patternWildcard {
			return pattern{}, "puts a wildcard before an IP address or a numeric label"
		}
		a, err := netip.ParseAddr(ascii)
		if err != nil || !a.Is4() {
			return pattern{}, "ends in a number but is not a valid IPv4 address"
		}
		return addrPattern(a)
	}
	p.name = string(buf[:n])
	if p.kind == patternWildcard {
		p.name = "." + p.name
	}
	return p, ""
}

// parseBracketed parses "[IPv6]", refusing a port after it.
func parseBracketed(s string) (pattern, string) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return pattern{}, "lacks the closing ']'"
	}
	if rest := s[end+1:]; rest != "" {
		if rest[0] == ':' {
			return pattern{}, "has a port; the request's port is ignored, so give the host alone"
		}
		return pattern{}, "has text after ']'"
	}
	a, err := netip.ParseAddr(s[1:end])
	if err != nil || !a.Is6() {
		return pattern{}, "is not a valid bracketed IPv6 address"
	}
	return addrPattern(a)
}

// addrPattern makes a single address a full-length prefix. IPv4-mapped IPv6
// addresses become the IPv4 ones they denote. The unspecified address, which
// no client names, is what a server binds to listen on every address:
// Kestrel reads "[::]" and "0.0.0.0" as "*" (MiddlewareConfigurationManager),
// and so does this, in every spelling of those addresses.
func addrPattern(a netip.Addr) (pattern, string) {
	if a.Zone() != "" {
		return pattern{}, "has an IPv6 zone, which a Host never matches"
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return pattern{kind: patternAny}, ""
	}
	return pattern{kind: patternPrefix, prefix: netip.PrefixFrom(a, a.BitLen())}, ""
}

// parsePrefix parses a CIDR prefix. One with host bits set is refused as a
// likely typo; an IPv4-mapped IPv6 prefix becomes the IPv4 prefix it covers.
func parsePrefix(s string) (pattern, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return pattern{}, "is neither a host nor a valid CIDR prefix"
	}
	if p.Masked() != p {
		return pattern{}, fmt.Sprintf("has host bits set (did you mean %v?)", p.Masked())
	}
	if a := p.Addr(); a.Is4In6() {
		// Masked, so at least /96: the mapping's prefix is whole.
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return pattern{kind: patternPrefix, prefix: p}, ""
}
