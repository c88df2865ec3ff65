// Package peer decides whether the immediate peer of a request is trusted:
// the one question every policy that believes a forwarded header (a client
// address, a client certificate) must answer first, and answer the same way.
package peer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Unix is the entry of a [Set] that trusts every peer connected over a Unix
// socket: a proxy on the same host, whose access the socket file's mode and
// owner already decide.
const Unix = "unix"

// Set is a set of trusted peers: IP prefixes and, optionally, every
// Unix-socket peer. The zero Set trusts nobody. A Set is immutable and safe
// for concurrent use.
type Set struct {
	prefixes []netip.Prefix
	unix     bool
}

// Parse builds a Set from entries, each an IP address ("192.0.2.1", "::1"),
// a CIDR prefix ("10.0.0.0/8", "fd00::/8") or [Unix]. IPv4-mapped IPv6
// addresses and prefixes are taken as the IPv4 ones they map. Prefixes with
// host bits set are refused, as a likely typo. The error names the entry.
func Parse(entries []string) (Set, error) {
	var s Set
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return Set{}, errors.New("empty entry")
		case strings.EqualFold(e, Unix):
			s.unix = true
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return Set{}, fmt.Errorf("%q is not an IP prefix", e)
			}
			if p.Masked() != p {
				return Set{}, fmt.Errorf("%q has host bits set (did you mean %v?)", e, p.Masked())
			}
			s.prefixes = append(s.prefixes, unmapPrefix(p))
		default:
			a, err := netip.ParseAddr(e)
			if err != nil || a.Zone() != "" {
				return Set{}, fmt.Errorf("%q is not an IP address, a prefix or %q", e, Unix)
			}
			a = a.Unmap()
			s.prefixes = append(s.prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return s, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// IsZero reports whether s trusts nobody.
func (s Set) IsZero() bool { return len(s.prefixes) == 0 && !s.unix }

// Contains reports whether a (unmapped first) lies in one of s's prefixes.
func (s Set) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Trusts reports whether the immediate peer of r, the other end of its
// connection, is in s: a Unix-socket peer if s trusts them, otherwise the IP
// address of r.RemoteAddr. Nothing the client sent is consulted.
func (s Set) Trusts(r *http.Request) bool {
	_, _, trusted := s.Peer(r)
	return trusted
}

// Peer returns what [Set.Trusts] decides from, with its decision: the
// immediate peer's address from r.RemoteAddr (invalid over a Unix socket,
// whose RemoteAddr is the peer's to name, or if RemoteAddr holds no IP
// address), whether it came over a Unix socket, and whether s trusts it.
func (s Set) Peer(r *http.Request) (addr netip.Addr, unix, trusted bool) {
	if IsUnix(r) {
		return netip.Addr{}, true, s.unix
	}
	addr, ok := RemoteAddr(r)
	return addr, false, ok && s.Contains(addr)
}

// IsUnix reports whether r arrived over a Unix socket, from the local
// address net/http records in the request's context.
func IsUnix(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && la != nil && strings.HasPrefix(la.Network(), "unix")
}

// RemoteAddr parses r.RemoteAddr ("ip:port", as net/http sets it) into an
// unmapped address without a zone. It reports false if RemoteAddr holds no
// IP address, as over a Unix socket.
func RemoteAddr(r *http.Request) (netip.Addr, bool) {
	if a, ok := ipv4Port(r.RemoteAddr); ok {
		return a, true
	}
	return remoteAddr(r.RemoteAddr)
}

// remoteAddr is RemoteAddr for any address.
func remoteAddr(s string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, err := netip.ParseAddr(s) // set by hand, without a port
		if err != nil {
			return netip.Addr{}, false
		}
		return a.Unmap().WithZone(""), true
	}
	return ap.Addr().Unmap().WithZone(""), true
}

// ipv4Port reads the "a.b.c.d:port" net/http makes of an IPv4 peer, which
// every request over IPv4 has, in a fifth of netip.ParseAddrPort's time (it
// was a fifth of the rate limiter's). It accepts only what ParseAddrPort
// accepts, with the same address (FuzzRemoteAddr holds it to that), and
// reports false for anything else, which RemoteAddr then parses in full.
func ipv4Port(s string) (netip.Addr, bool) {
	var ip [4]byte
	i := 0
	for f := range 4 {
		if f > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, n := i, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 3 {
			n = n*10 + int(s[i]-'0')
			i++
		}
		if i == start || n > 255 || (s[start] == '0' && i-start > 1) {
			return netip.Addr{}, false
		}
		ip[f] = byte(n)
	}
	if i >= len(s) || s[i] != ':' {
		return netip.Addr{}, false
	}
	i++
	start, port := i, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 5 {
		port = port*10 + int(s[i]-'0')
		i++
	}
	if i == start || i != len(s) || port > 65535 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}
