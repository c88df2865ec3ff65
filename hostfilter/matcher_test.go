package hostfilter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/idna"
)

// patterns is the pattern set most matching tests run against.
var patterns = []string{
	"example.com",
	"*.example.net",
	"bücher.example",
	"*.Ünïcode.example",
	"trailing.example.",
	"127.0.0.1",
	"[::1]",
	"2001:db8::7",
	"10.0.0.0/8",
	"fd00::/8",
	"::ffff:192.168.0.0/112",
	"under_score.example",
}

func TestMatch(t *testing.T) {
	unicodeSuffix, err := idna.ToASCII("ünïcode.example")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(unicodeSuffix, "xn--"), unicodeSuffix)
	f, err := New(Config{AllowedHosts: patterns})
	require.NoError(t, err)
	const (
		ok        = accepted
		malformed = ReasonMalformedHost
		denied    = ReasonHostNotAllowed
	)
	for _, tt := range []struct {
		host string
		want Reason
	}{
		// Exact names, case, ports, trailing dots.
		{"example.com", ok},
		{"EXAMPLE.COM", ok},
		{"Example.Com:8080", ok},
		{"example.com:", ok}, // RFC 3986: an empty port
		{"example.com:65535", ok},
		{"example.com.", ok},
		{"example.com.:443", ok},
		{"trailing.example", ok},
		{"trailing.example.", ok},
		{"under_score.example", ok},
		{"www.example.com", denied},
		{"example.co", denied},
		{"xexample.com", denied},
		{"example.com.evil", denied},
		{"example.com..", malformed},
		{".example.com", malformed},
		{"example..com", malformed},
		{".", malformed},
		{"..", malformed},
		{":80", malformed},
		{"example.com:80x", malformed},
		{"example.com:65536", malformed},
		{"example.com:000080", malformed},
		{"example.com:-1", malformed},
		{"example.com:80:80", malformed},
		{"example.com::80", malformed},
		{"example.com/", malformed},
		{"ex%61mple.com", malformed},
		{"exa mple.com", malformed},
		{"user@example.com", malformed},
		{"example.com\x00", malformed},
		{"*.example.net", malformed},
		{strings.Repeat("a", 64) + ".example.com", malformed},
		{strings.Repeat("a", 63) + ".example.com", denied},
		{strings.Repeat("a.", 126) + "ab", malformed},  // 254 bytes
		{strings.Repeat("a.", 126) + "a", denied},      // 253 bytes
		{strings.Repeat("a.", 126) + "a.", denied},     // 253 bytes and the root
		{strings.Repeat("a.", 127) + "a", malformed},   // 255 bytes
		{strings.Repeat("a.", 126) + "ab.", malformed}, // 254 bytes and the root
		// Wildcards: any depth, never the apex, never an empty label.
		{"a.example.net", ok},
		{"A.B.C.Example.Net:8443", ok},
		{"a.example.net.", ok},
		{"example.net", denied},
		{"example.net.", denied},
		{".example.net", malformed},
		{"..example.net", malformed},
		{"x..example.net", malformed},
		{"x.y..example.net", malformed},
		{"..x.example.net", malformed},
		{".x.example.net", malformed},
		{"aexample.net", denied},
		{"a.example.net.evil", denied},
		// IDNA: patterns are converted, hosts compared as received, without
		// regard to ASCII case.
		{"xn--bcher-kva.example", ok},
		{"XN--BCHER-KVA.EXAMPLE", ok},
		{"bücher.example", malformed},
		{"a." + unicodeSuffix, ok},
		{"A." + strings.ToUpper(unicodeSuffix), ok},
		{unicodeSuffix, denied},
		{"a.ünïcode.example", malformed},
		// IP literals, compared as addresses.
		{"127.0.0.1", ok},
		{"127.0.0.1:8080", ok},
		{"127.0.0.1.", ok},
		{"127.0.0.2", denied},
		{"127.1", malformed},
		{"0127.0.0.1", malformed},
		{"127.0.0.256", malformed},
		{"example.0x7f", malformed},
		{"1234", malformed},
		{"[::1]", ok},
		{"[0:0::1]:443", ok},
		{"[0000:0000:0000:0000:0000:0000:0000:0001]", ok},
		{"[::2]", denied},
		{"[2001:DB8::7]", ok},
		{"[2001:db8:0:0:0:0:0:7]", ok},
		{"[::ffff:127.0.0.1]", ok},
		{"[::ffff:7f00:1]:80", ok},
		{"::1", malformed},
		{"2001:db8::7", malformed},
		{"[::1", malformed},
		{"[::1]x", malformed},
		{"[::1]:8x", malformed},
		{"[127.0.0.1]", malformed},
		{"[]", malformed},
		{"[fe80::1%25eth0]", denied},
		{"[::1%25lo]", denied},
		{"[zz%25lo]", malformed},
		// CIDR prefixes, with IPv4-mapped forms.
		{"10.0.0.1", ok},
		{"10.255.255.255:1", ok},
		{"11.0.0.0", denied},
		{"[::ffff:10.1.2.3]", ok},
		{"[fd12:3456::1]", ok},
		{"[fe00::1]", denied},
		{"192.168.3.4", ok},
		{"[::ffff:192.168.3.4]", ok},
		{"192.169.0.0", denied},
	} {
		got := f.m.match(tt.host)
		assert.Equal(t, tt.want, got, "%q: got %v, want %v", tt.host, got, tt.want)
		assert.Equal(t, tt.want == accepted, f.Allows(tt.host), "Allows(%q)", tt.host)
	}
}

func TestMatchAny(t *testing.T) {
	f := Allow("*")
	for _, host := range []string{"example.com", "anything.at.all:80", "[2001:db8::1]", "192.0.2.1", ""} {
		assert.True(t, f.Allows(host), host)
	}
	for _, host := range []string{"x..example.com", "a b", "example.com:http", "::1", "127.1", "ex%61mple.com"} {
		assert.False(t, f.Allows(host), "malformed hosts are refused even with \"*\": %q", host)
		assert.Equal(t, ReasonMalformedHost, f.m.match(host), host)
	}
}

func TestMatchEmptyHost(t *testing.T) {
	assert.True(t, Allow("example.com").Allows(""), "Kestrel's AllowEmptyHosts = true")
	f, err := New(Config{AllowedHosts: []string{"*"}, RejectEmptyHost: true})
	require.NoError(t, err)
	assert.False(t, f.Allows(""))
	assert.True(t, f.Allows("example.com"))
}

func TestWildcardOverTLD(t *testing.T) {
	f := Allow("*.com")
	assert.True(t, f.Allows("example.com"))
	assert.True(t, f.Allows("a.b.example.com"))
	assert.False(t, f.Allows("com"))
	assert.False(t, f.Allows(".com"))
}

func TestManyPatterns(t *testing.T) {
	p := benchPatterns(1000, kindMixed)
	f := Allow(p...)
	for i := range 1000 {
		hosts := benchHosts(i)
		assert.True(t, f.Allows(hosts[i%3]), "%d: %s", i, hosts[i%3])
	}
	assert.False(t, f.Allows("nowhere.example.org"))
	assert.False(t, f.Allows("10.200.0.1"))
	assert.False(t, f.Allows("host1000.example.com"))
	assert.True(t, f.Allows(strings.Repeat("a.", 100)+"tenant4.example.net"), "100 labels before the suffix")
	assert.False(t, f.Allows(strings.Repeat("a.", 100)+"tenant5.example.net"), "pattern 5 is a CIDR")
	assert.Equal(t, []int{24}, f.m.bits4)
}

func TestMappedAgainstIPv6Prefix(t *testing.T) {
	f := Allow("::/0")
	assert.True(t, f.Allows("[::ffff:192.0.2.1]"), "an IPv6 literal in ::/0")
	assert.False(t, f.Allows("192.0.2.1"))
	f = Allow("::ffff:0:0/96")
	assert.True(t, f.Allows("192.0.2.1"), "the mapped range is all of IPv4")
	assert.True(t, f.Allows("[::ffff:192.0.2.1]"))
	assert.False(t, f.Allows("[::1]"))
}

func TestPrefixLengthsLongestFirst(t *testing.T) {
	f := Allow("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "fd00::/8", "[::1]", "10.2.0.0/16")
	assert.Equal(t, []int{32, 16, 8}, f.m.bits4)
	assert.Equal(t, []int{128, 8}, f.m.bits6)
	assert.True(t, f.Allows("10.9.9.9"))
	assert.True(t, f.Allows("[fdff::1]"))
}

// TestMatchListenEverywhere checks that "[::]" and "0.0.0.0" (in any
// spelling, through New, Allow and ParseAllowedHosts alike) turn filtering
// off exactly as "*" does, as Kestrel's MiddlewareConfigurationManager does,
// and that the prefixes covering every address do not.
func TestMatchListenEverywhere(t *testing.T) {
	hosts := []string{
		"example.com", "anything.at.all:80", "[2001:db8::1]", "192.0.2.1", "0.0.0.0", "[::]", "",
		"x..example.com", "a b", "example.com:http", "::1", "127.1",
	}
	star := Allow("*")
	for _, p := range []string{"[::]", "0.0.0.0", "::", "[0:0::0]", "::ffff:0.0.0.0", "0.0.0.0.", " [::] "} {
		for _, f := range []*Filter{Allow(p), Allow("example.com", p), mustFilter(t, Config{AllowedHosts: ParseAllowedHosts("example.com;" + p)})} {
			assert.True(t, f.m.any, "%q", p)
			for _, h := range hosts {
				assert.Equal(t, star.m.match(h), f.m.match(h), "%q against %q", h, p)
			}
		}
		strict := mustFilter(t, Config{AllowedHosts: []string{p}, RejectEmptyHost: true})
		assert.False(t, strict.Allows(""), "%q: RejectEmptyHost still refuses an empty host", p)
		assert.True(t, strict.Allows("example.com"), "%q", p)
	}
	for _, p := range []string{"0.0.0.0/0", "::/0", "0.0.0.0/8"} {
		f := Allow(p)
		assert.False(t, f.m.any, "%q is a prefix, not any host", p)
		assert.False(t, f.Allows("example.com"), "%q", p)
	}
	_, err := New(Config{AllowedHosts: []string{"[::]:80"}})
	assert.ErrorContains(t, err, "has a port")
}

func mustFilter(t *testing.T, cfg Config) *Filter {
	t.Helper()
	f, err := New(cfg)
	require.NoError(t, err)
	return f
}
