package hostfilter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/windhover/windhover/internal/testserver"
)

type benchKind int

const (
	kindExact benchKind = iota
	kindWildcard
	kindCIDR
	kindMixed
)

// benchPatterns returns n patterns of one kind, or of the three kinds in
// turn. Pattern i matches benchHosts(i)[kind], or [i%3] for kindMixed.
func benchPatterns(n int, kind benchKind) []string {
	p := make([]string, n)
	for i := range p {
		k := kind
		if k == kindMixed {
			k = benchKind(i % 3)
		}
		switch k {
		case kindExact:
			p[i] = fmt.Sprintf("host%d.example.com", i)
		case kindWildcard:
			p[i] = fmt.Sprintf("*.tenant%d.example.net", i)
		case kindCIDR:
			p[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		}
	}
	return p
}

// benchHosts returns the hosts pattern i of each kind matches.
func benchHosts(i int) [3]string {
	return [3]string{
		fmt.Sprintf("host%d.example.com", i),
		fmt.Sprintf("a.b.tenant%d.example.net", i),
		fmt.Sprintf("10.%d.%d.7", i/256, i%256),
	}
}

// BenchmarkMatch measures the matching that Check and Handler do, with 1, 10
// and 1,000 patterns, the host matching the last one added (exact, wildcard,
// CIDR), or none (miss, against as many patterns of the three kinds in turn).
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, 10, 1000} {
		for _, tc := range []struct {
			name string
			kind benchKind
			host string
		}{
			{"exact", kindExact, benchHosts(n - 1)[kindExact]},
			{"wildcard", kindWildcard, benchHosts(n - 1)[kindWildcard]},
			{"cidr", kindCIDR, benchHosts(n - 1)[kindCIDR]},
			{"miss", kindMixed, "www.example.org"},
			{"miss-125-labels", kindWildcard, strings.Repeat("a.", 120) + "tenant.example.net"},
		} {
			b.Run("patterns="+strconv.Itoa(n)+"/"+tc.name, func(b *testing.B) {
				f := Allow(benchPatterns(n, tc.kind)...)
				r := requestTo(tc.host)
				want := !strings.HasPrefix(tc.name, "miss")
				if (f.Check(r) == nil) != want {
					b.Fatalf("%s: want allowed=%v", tc.host, want)
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = f.m.match(r.Host) // the matcher, not the hosts a Filter remembers
				}
			})
		}
	}
}

// BenchmarkHandler measures a whole pass through the Handler, counting
// included, for hosts in the forms clients send, against 1,000 patterns, and
// a refusal.
func BenchmarkHandler(b *testing.B) {
	f := Allow(append(benchPatterns(1000, kindMixed), "example.com", "*.example.com", "[::1]")...)
	h := f.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := testserver.NewNopWriter()
	for _, host := range append(allocHosts, "refused.example.org") {
		b.Run("host="+host, func(b *testing.B) {
			r := requestTo(host)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// allocHosts are the allowed hosts the allocation guard tries, one of each
// form a client may send.
var allocHosts = []string{
	"example.com",
	"example.com:8443",
	"EXAMPLE.COM",
	"example.com.",
	"a.b.example.com",
	"[::1]",
	"[0:0::1]:443",
	"10.0.2.7", // pattern 2 of the mixed set is 10.0.2.0/24
	"",
}

func TestAllocations(t *testing.T) {
	f := Allow(append(benchPatterns(1000, kindMixed), "example.com", "*.example.com", "[::1]")...)
	h := f.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := testserver.NewNopWriter()
	for _, host := range allocHosts {
		r := requestTo(host)
		is := assert.New(t)
		is.NoError(f.Check(r), host)
		is.Zero(testing.AllocsPerRun(100, func() { _ = f.Check(r) }), "Check(%q)", host)
		is.Zero(testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }), "Handler, %q", host)
	}
	// HTTP/2 requests naming their host twice: an absolute :path, a Host
	// field beside :authority.
	for _, tc := range []struct{ host, urlHost, field string }{
		{"example.com", "EXAMPLE.COM:443", ""},
		{"example.com", "", "Example.com."},
		{"10.0.2.7", "[::ffff:10.0.2.7]:80", "10.0.2.7:443"},
		{"a.b.example.com:8443", "A.B.EXAMPLE.COM", "a.b.example.com."},
	} {
		r := requestTo(tc.host)
		r.URL.Host = tc.urlHost
		if tc.field != "" {
			r.Header["Host"] = []string{tc.field}
		}
		assert.NoError(t, f.Check(r), tc)
		assert.Zero(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }), "Handler, %v", tc)
	}
	for _, host := range []string{"www.example.org", "x..example.com", "10.200.0.1", "[::2]", "EXAMPLE.ORG:80"} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = f.Allows(host) }), "Allows(%q), a miss", host)
	}
	assert.Equal(t, uint64(0), f.Stats().RejectedTotal())
}
