package hostfilter

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseAllowedHosts(f *testing.F) {
	for _, s := range []string{"", ";", "a.example.com;*.example.com", " a ; ;b;", "*", "\t;\u00a0x\u00a0;", "[::1];10.0.0.0/8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts := ParseAllowedHosts(s)
		for _, h := range hosts {
			if h == "" || h != strings.TrimSpace(h) || strings.Contains(h, ";") {
				t.Fatalf("ParseAllowedHosts(%q) gave entry %q", s, h)
			}
		}
		again := ParseAllowedHosts(strings.Join(hosts, ";"))
		if strings.Join(again, "\x00") != strings.Join(hosts, "\x00") {
			t.Fatalf("not stable: %q then %q", hosts, again)
		}
	})
}

// FuzzPattern checks that every pattern New accepts allows the hosts it
// names, in every form a client may send them, and refuses its neighbours.
func FuzzPattern(f *testing.F) {
	for _, p := range append(patterns, "*", "*.com", "bad:80", "[::1]:80", "x..y", "10.0.0.1/8", "*.10.0.0.1", "１０.０.０.１",
		"ｅｘａｍｐｌｅ。ｃｏｍ", "xn--zz", "a_b", "::ffff:10.0.0.0/104", "0.0.0.0/0", "::/0", "[fe80::1%eth0]", "ı.example") {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, problem := parsePattern(s)
		_, err := New(Config{AllowedHosts: []string{s}})
		if (problem == "") != (err == nil) {
			t.Fatalf("parsePattern(%q) and New disagree: %q, %v", s, problem, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "windhover/hostfilter: Config.AllowedHosts[0] = ") {
				t.Fatalf("error does not name the field: %v", err)
			}
			return
		}
		flt := Allow(s)
		allows := func(host string, want bool) {
			t.Helper()
			if flt.Allows(host) != want {
				t.Fatalf("pattern %q (%+v): Allows(%q) = %v, want %v", s, p, host, !want, want)
			}
		}
		switch p.kind {
		case patternName:
			for _, h := range []string{p.name, strings.ToUpper(p.name), p.name + ".", p.name + ":1", p.name + ".:65535"} {
				allows(h, true)
			}
			allows("x"+p.name, false)
			allows("x."+p.name, false)
			allows("."+p.name, false)
		case patternWildcard:
			allows("x"+p.name, true)
			allows("X.Y"+strings.ToUpper(p.name)+".:8080", true)
			allows(p.name[1:], false)
			allows(p.name, false)
			allows("."+p.name, false)
			allows("x."+p.name, false)
		case patternPrefix:
			a := p.prefix.Addr()
			allows(hostLiteral(a), true)
			if a.Is4() {
				allows(hostLiteral(netip.AddrFrom16(a.As16())), true)
			}
			allows(hostLiteral(lastAddr(p.prefix)), true)
			if next := lastAddr(p.prefix).Next(); next.IsValid() && !next.Is4In6() {
				allows(hostLiteral(next), false)
			}
		}
	})
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// hostLiteral writes a as a Host: IPv6 in brackets.
func hostLiteral(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// FuzzMatch compares the matcher with a slow reference written from the
// documented rules, and checks its invariants: a host that passes never has
// an empty label, case and the port never change the verdict, nothing panics.
func FuzzMatch(f *testing.F) {
	for _, h := range []string{"example.com", "EXAMPLE.com:80", "example.com.", "a.example.net", ".example.net", "..example.net",
		"x..example.net", "[::1]", "[0:0::1]:443", "[::ffff:10.1.2.3]", "10.0.0.1", "127.1", "0x7f.1", "example.com:99999",
		"[fe80::1%25eth0]", "::1", "ex%61mple.com", "xn--bcher-kva.example", "ı.example", "", ":", "[", "]:80", "a:b:c"} {
		f.Add(strings.Join(patterns, ";"), h)
		f.Add("*", h)
	}
	f.Fuzz(func(t *testing.T, list, host string) {
		pats := ParseAllowedHosts(list)
		if len(pats) == 0 {
			return
		}
		flt, err := New(Config{AllowedHosts: pats})
		if err != nil {
			return
		}
		var parsed []pattern
		for _, s := range pats {
			p, _ := parsePattern(s)
			parsed = append(parsed, p)
		}
		got := flt.m.match(host)
		if want := refMatch(parsed, host); got != want {
			t.Fatalf("patterns %q, host %q: got %v, reference %v", pats, host, got, want)
		}
		if got == accepted {
			name := hostOnly(host)
			if strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
				t.Fatalf("patterns %q allow %q, which has an empty label", pats, host)
			}
		}
		for _, h := range []string{asciiUpper(host), asciiLower(host)} {
			if v := flt.m.match(h); v != got {
				t.Fatalf("patterns %q: %q is %v but %q is %v", pats, host, got, h, v)
			}
		}
		if host != "" && !strings.Contains(host, ":") {
			if v := flt.m.match(host + ":8080"); v != got {
				t.Fatalf("patterns %q: %q is %v but with a port %v", pats, host, got, v)
			}
		}
	})
}

func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 32
		}
		return r
	}, s)
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, s)
}

// hostOnly strips the port and one trailing dot.
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}

var (
	refName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*$`)
	refNumeric = regexp.MustCompile(`(^|\.)([0-9]+|0[xX][0-9A-Fa-f]*)$`)
	refPort    = regexp.MustCompile(`^(:[0-9]{0,5})?$`)
)

// refMatch is the reference: the rules of the package documentation, written
// for clarity rather than speed.
func refMatch(ps []pattern, host string) Reason {
	if host == "" {
		return ReasonEmptyHost
	}
	any := false
	for _, p := range ps {
		any = any || p.kind == patternAny
	}
	matchAddr := func(a netip.Addr) Reason {
		for _, p := range ps {
			if any || p.kind == patternPrefix && (p.prefix.Contains(a.Unmap()) || p.prefix.Contains(a)) {
				return accepted
			}
		}
		return ReasonHostNotAllowed
	}
	var hostPart, port string
	if strings.HasPrefix(host, "[") {
		end := strings.Index(host, "]")
		if end < 0 {
			return ReasonMalformedHost
		}
		hostPart, port = host[1:end], host[end+1:]
	} else {
		hostPart = host
		if strings.Count(host, ":") > 1 {
			return ReasonMalformedHost
		}
		if i := strings.Index(host, ":"); i >= 0 {
			hostPart, port = host[:i], host[i:]
		}
	}
	if !refPort.MatchString(port) {
		return ReasonMalformedHost
	}
	if len(port) > 1 {
		if n, _ := strconv.Atoi(port[1:]); n > 65535 {
			return ReasonMalformedHost
		}
	}
	if strings.HasPrefix(host, "[") {
		addr, zone, hasZone := strings.Cut(hostPart, "%")
		a, err := netip.ParseAddr(addr)
		_ = zone
		switch {
		case err != nil || !a.Is6():
			return ReasonMalformedHost
		case hasZone:
			return ReasonHostNotAllowed
		}
		return matchAddr(a)
	}
	name := strings.TrimSuffix(hostPart, ".")
	if len(name) > 253 || !refName.MatchString(name) {
		return ReasonMalformedHost
	}
	if refNumeric.MatchString(name) {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is4() {
			return ReasonMalformedHost
		}
		return matchAddr(a)
	}
	lower := strings.ToLower(name)
	for _, p := range ps {
		switch {
		case p.kind == patternAny,
			p.kind == patternName && lower == p.name,
			p.kind == patternWildcard && strings.HasSuffix(lower, p.name) && len(lower) > len(p.name):
			return accepted
		}
	}
	return ReasonHostNotAllowed
}

// FuzzJudge judges requests naming hosts in r.Host, r.URL.Host and a Host
// field, as net/http's HTTP/2 server makes them, and checks the rules of
// [Filter.Handler] against a reference: a request passes only if every host
// it names is allowed and all name the same host; a refusal names one of
// them, for the reason the matcher gives it alone or for a mismatch; which
// of two hosts comes in r.Host does not change whether the request passes.
func FuzzJudge(f *testing.F) {
	for _, tc := range [][3]string{
		{"example.com", "", ""}, {"example.com", "evil.example", ""}, {"example.com", "", "EXAMPLE.com."},
		{"example.com", "a.example.net", ""}, {"", "a.example.net", "b.example.net:80"}, {"10.0.0.1", "[::ffff:10.0.0.1]:80", ""},
		{"[::1]", "[0::1]", "[::1]:443"}, {"example.com", "x..example.net", ""}, {"example.com", "", ""}, {"[", "]", ":"},
		{"10.0.0.1", "10.0.0.1.", "10.0.0.2"}, {"example.com:80", "example.com:", "example.com:65535"},
	} {
		f.Add(strings.Join(patterns, ";"), tc[0], tc[1], tc[2], tc[2] != "")
		f.Add("*", tc[0], tc[1], tc[2], true)
	}
	f.Fuzz(func(t *testing.T, list, host, urlHost, field string, hasField bool) {
		pats := ParseAllowedHosts(list)
		if len(pats) == 0 {
			return
		}
		flt, err := New(Config{AllowedHosts: pats})
		if err != nil {
			return
		}
		request := func(host, urlHost string) *http.Request {
			r := &http.Request{Host: host, URL: &url.URL{Host: urlHost, Path: "/"}, Header: http.Header{}}
			if hasField {
				r.Header["Host"] = []string{field}
			}
			return r
		}
		named := []string{host, urlHost}
		if hasField {
			named = append(named, field)
		}
		err = flt.Check(request(host, urlHost))
		if err == nil {
			key := ""
			for _, h := range named {
				if h == "" {
					continue
				}
				if !flt.Allows(h) {
					t.Fatalf("patterns %q: %q passed with %q, which is not allowed", pats, named, h)
				}
				if k := refKey(h); key == "" {
					key = k
				} else if k != key {
					t.Fatalf("patterns %q: %q passed, naming %q and %q", pats, named, key, k)
				}
			}
		} else {
			e := err.(*Error)
			if !slices.Contains(named, e.Host) {
				t.Fatalf("patterns %q: %q refused naming %q", pats, named, e.Host)
			}
			if v := flt.verdict(e.Host); e.Reason == ReasonHostMismatch {
				if v != accepted {
					t.Fatalf("patterns %q: %q refused as a mismatch naming %q, which is refused alone (%v)", pats, named, e.Host, v)
				}
			} else if v != e.Reason {
				t.Fatalf("patterns %q: %q refused for %v naming %q, which alone is %v", pats, named, e.Reason, e.Host, v)
			}
		}
		if host != "" && urlHost != "" {
			if swapped := flt.Check(request(urlHost, host)); (swapped == nil) != (err == nil) {
				t.Fatalf("patterns %q: %q gives %v, but with r.Host and r.URL.Host swapped %v", pats, named, err, swapped)
			}
		}
	})
}

// refKey is the reference's form of an allowed host: its name in lower
// case without port and trailing dot, or its address.
func refKey(h string) string {
	name := h
	if strings.HasPrefix(h, "[") {
		name = h[1:strings.Index(h, "]")]
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		name = h[:i]
	}
	name = strings.TrimSuffix(name, ".")
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(name)
}
