package metrics

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
)

// FuzzLabels checks that whatever a client sends, the labels a request
// gives stay within their bounded sets, and that a route is its pattern
// without the method.
func FuzzLabels(f *testing.F) {
	f.Add("GET", "GET /items/{id}", 1, 1, uint16(tls.VersionTLS13))
	f.Add("get", "/static/", 1, 0, uint16(0))
	f.Add("PROPFIND", "POST\t\texample.com/upload", 2, 0, uint16(tls.VersionTLS12))
	f.Add("", " /x", 3, 7, uint16(0xffff))
	f.Add("DELETE", "DELETE", 0, 9, uint16(0x0300))
	f.Fuzz(func(t *testing.T, method, pattern string, major, minor int, version uint16) {
		i := methodIndex(method)
		if int(i) >= numMethods {
			t.Fatalf("method %q: index %d", method, i)
		}
		if got := methods[i]; got != method && got != "_OTHER" {
			t.Fatalf("method %q labelled %q", method, got)
		}
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
			http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch:
			if methods[i] != method {
				t.Fatalf("known method %q labelled %q", method, methods[i])
			}
		}
		if p := protocolIndex(major, minor); int(p) >= len(protocols) {
			t.Fatalf("protocol %d.%d: index %d", major, minor, p)
		}
		if v := tlsVersionIndex(version); int(v) >= len(tlsVersions) {
			t.Fatalf("TLS version %#x: index %d", version, v)
		}
		route := routeLabel(pattern)
		if !strings.HasSuffix(pattern, route) {
			t.Fatalf("route %q is not the end of pattern %q", route, pattern)
		}
		if strings.HasPrefix(route, " ") || strings.HasPrefix(route, "\t") {
			t.Fatalf("route %q of pattern %q starts with a blank", route, pattern)
		}
		if !strings.ContainsAny(pattern, " \t") && route != pattern {
			t.Fatalf("pattern %q without a method gave route %q", pattern, route)
		}
	})
}

func TestRouteLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                     "",
		"/":                    "/",
		"GET /items/{id}":      "/items/{id}",
		"POST  example.com/up": "example.com/up",
		"example.com/":         "example.com/",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}
