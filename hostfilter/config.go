package hostfilter

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Config is Kestrel's HostFilteringOptions. Its zero value is Kestrel's
// defaults except for AllowedHosts, which, as in Kestrel, must be given:
// [New] refuses an empty list ("no allowed hosts configured") rather than
// guess.
type Config struct {
	// AllowedHosts are the hosts a request may name, each one of:
	//
	//   - "*": any well-formed host (filtering off, as in Kestrel); "[::]"
	//     and "0.0.0.0", the addresses a server binds to listen everywhere,
	//     mean the same, as in Kestrel (so do "::" and any other spelling of
	//     those addresses, but not a CIDR prefix such as "0.0.0.0/0");
	//   - a name, "example.com", compared without regard to case and to a
	//     trailing dot; a Unicode name is converted to punycode (IDNA);
	//   - a wildcard, "*.example.com", matching subdomains at any depth but
	//     not example.com itself;
	//   - an IP address, "192.0.2.1", "[2001:db8::1]" or "2001:db8::1",
	//     compared as an address ("[2001:db8:0::1]" is the same);
	//   - a CIDR prefix, "10.0.0.0/8" or "fd00::/8", matching every address
	//     in it.
	//
	// Spaces around an entry are ignored. An entry with a port, a scheme or a
	// path, an empty entry, or an empty list is an error. [ParseAllowedHosts]
	// reads ASP.NET's "a.example.com;*.example.com" form.
	AllowedHosts []string

	// RejectEmptyHost refuses requests that name no host: HTTP/1.0 requests
	// without a Host field, an empty Host field, HTTP/2 requests without
	// :authority or Host. False (the default) lets them through, as Kestrel's
	// AllowEmptyHosts = true does; HTTP/1.1 requests without a Host field
	// never reach a handler (net/http answers 400 itself).
	RejectEmptyHost bool

	// OmitFailureMessage sends refusals with an empty body. False (the
	// default) sends the short text "invalid hostname", as Kestrel's
	// IncludeFailureMessage = true does.
	OmitFailureMessage bool

	// OnReject, if set, is called for each refusal with the request and an
	// [*Error]. It runs on the request's goroutine before the client is
	// answered, so it must be quick and safe for concurrent use.
	OnReject func(r *http.Request, err error)
}

// ParseAllowedHosts reads the form ASP.NET's configuration gives
// AllowedHosts, entries separated by ';' ("example.com;*.example.com"),
// trimming spaces around each entry and dropping empty ones, so that
// "a.example.com; ;b.example.com;" yields two entries. It does not check the
// entries: [New] does, and reads "*", "[::]" and "0.0.0.0" alike as any host.
func ParseAllowedHosts(s string) []string {
	var hosts []string
	for e := range strings.SplitSeq(s, ";") {
		if e = strings.TrimSpace(e); e != "" {
			hosts = append(hosts, e)
		}
	}
	return hosts
}

// compile validates the patterns and precomputes the matcher. describe names
// entry i for error messages.
func compile(patterns []string, describe func(i int) string) (matcher, error) {
	m := matcher{
		names:    make(map[string]struct{}),
		suffixes: make(map[string]struct{}),
		prefixes: make(map[netip.Prefix]struct{}),
	}
	for i, s := range patterns {
		p, problem := parsePattern(s)
		if problem != "" {
			return matcher{}, fmt.Errorf("%s = %q %s", describe(i), s, problem)
		}
		m.add(p)
	}
	return m, nil
}
