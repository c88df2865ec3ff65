package benchmarks

import (
	"fmt"
	"testing"

	"github.com/unrolled/secure"
	"github.com/windhover/windhover/hostfilter"
)

// BenchmarkHostFilter compares hostfilter with unrolled/secure's
// AllowedHosts, secure doing nothing else (no header, no redirect), for an
// allowed host: among one name, among 100 names (the last of them, where
// secure compares with each in turn), and under a wildcard, which secure
// writes as a regular expression (AllowedHostsAreRegex).
func BenchmarkHostFilter(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("host%d.example.com", i)
	}
	for _, tc := range []struct {
		name     string
		host     string
		patterns []string
		opts     secure.Options
	}{
		{"names=1", "example.com", []string{"example.com"}, secure.Options{AllowedHosts: []string{"example.com"}}},
		{"names=100", names[99], names, secure.Options{AllowedHosts: names}},
		{"wildcard", "a.b.example.com", []string{"*.example.com"},
			secure.Options{AllowedHosts: []string{`.+\.example\.com`}, AllowedHostsAreRegex: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			serveArms(b, load{host: tc.host}, []arm{
				{"bare", app()},
				{"windhover", hostfilter.Allow(tc.patterns...).Handler(app())},
				{"secure", secure.New(tc.opts).Handler(app())},
			})
		})
	}
}
