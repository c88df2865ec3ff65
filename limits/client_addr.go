package limits

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/windhover/windhover/internal/peer"
)

// ForwardedHeader names the header field in which trusted proxies pass on the
// address of the client they serve.
type ForwardedHeader uint8

const (
	// HeaderXForwardedFor is X-Forwarded-For: a comma-separated list of
	// addresses, each proxy appending the address of its own client. An
	// element may carry a port ("192.0.2.1:5000", "[2001:db8::1]:443"); a
	// bare IPv6 address is also accepted.
	HeaderXForwardedFor ForwardedHeader = iota
	// HeaderForwarded is Forwarded (RFC 7239), of which the for= parameter
	// of each element is read; IPv6 addresses and ports must be quoted and
	// bracketed as the RFC requires ("for=\"[2001:db8::1]:443\"").
	HeaderForwarded
)

// String returns the header field's name.
func (h ForwardedHeader) String() string {
	switch h {
	case HeaderXForwardedFor:
		return "X-Forwarded-For"
	case HeaderForwarded:
		return "Forwarded"
	}
	return fmt.Sprintf("ForwardedHeader(%d)", uint8(h))
}

// The default prefix lengths by which client addresses are grouped: one key
// per IPv4 address, and one per IPv6 /64, the smallest network a site is
// usually given, within which a client can pick any address it likes.
const (
	DefaultIPv4PrefixLen = 32
	DefaultIPv6PrefixLen = 64
)

// maxForwardedHops bounds the walk through trusted proxies, so that a long
// header costs no more than this many elements.
const maxForwardedHops = 32

// Keys of requests whose client has no IP address.
const (
	unixKey    = "unix"    // over a Unix socket from an untrusted peer, or one that forwarded nothing
	unknownKey = "unknown" // RemoteAddr is not an IP address (set by hand or by middleware)
)

// clientAddr finds the address of a request's client, believing a forwarding
// header only from trusted proxies.
type clientAddr struct {
	trusted   peer.Set
	field     string // the forwarding header's canonical name
	forwarded bool   // RFC 7239 syntax
	v4, v6    int    // prefix lengths
}

// The kinds of client resolve finds.
const (
	clientIP = iota
	clientUnix
	clientUnknown
)

// resolve walks from the immediate peer through trusted proxies to the
// client; see [RateConfig.TrustedProxies].
func (c *clientAddr) resolve(r *http.Request) (netip.Addr, int) {
	a, unix, trusted := c.trusted.Peer(r)
	kind := clientIP
	switch {
	case unix:
		kind = clientUnix
	case !a.IsValid():
		return a, clientUnknown
	}
	if !trusted {
		return a, kind
	}
	h := hops{values: r.Header[c.field], forwarded: c.forwarded}
	for range maxForwardedHops {
		next, ok := h.next()
		if !ok {
			break
		}
		a, kind = next, clientIP
		if !c.trusted.Contains(a) {
			break
		}
	}
	return a, kind
}

// prefix returns the network a is grouped in.
func (c *clientAddr) prefix(a netip.Addr) netip.Prefix {
	bits := c.v6
	if a.Is4() {
		bits = c.v4
	}
	p, _ := a.Prefix(bits)
	return p
}

// memKey returns the MemoryStore key of r's client, without allocating.
func (c *clientAddr) memKey(r *http.Request) memKey {
	a, kind := c.resolve(r)
	switch kind {
	case clientUnix:
		return memKey{s: unixKey}
	case clientUnknown:
		return memKey{s: unknownKey}
	}
	return memKey{addr: c.prefix(a).Addr()}
}

// key returns the string key of r's client: its address, or its network in
// CIDR notation if grouped by a shorter prefix, "unix" or "unknown".
func (c *clientAddr) key(r *http.Request) string {
	a, kind := c.resolve(r)
	switch kind {
	case clientUnix:
		return unixKey
	case clientUnknown:
		return unknownKey
	}
	p := c.prefix(a)
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
