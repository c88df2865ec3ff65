package limits

import (
	"crypto/tls"
	"net/http"
	"testing"
)

// headRequests are requests as net/http hands them to a handler: a browser's
// GET over HTTP/1.1, and over HTTP/2 without a cookie, with one cookie, and
// with the twelve crumbs net/http joined into one Cookie value.
func headRequests(tb testing.TB) []struct {
	name string
	r    *http.Request
} {
	r1, _ := requestFor(tb, 0)
	h2 := func(cookie string) *http.Request {
		h := http.Header{
			"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
			"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Language": {"en-GB,en;q=0.5"},
			"Accept-Encoding": {"gzip, deflate, br, zstd"},
			"Sec-Fetch-Dest":  {"document"},
			"Sec-Fetch-Mode":  {"navigate"},
		}
		if cookie != "" {
			h["Cookie"] = []string{cookie}
		}
		return &http.Request{Method: "GET", Proto: "HTTP/2.0", ProtoMajor: 2, Host: "example.com",
			RequestURI: "/items/42?x=1", Header: h, TLS: &tls.ConnectionState{}}
	}
	return []struct {
		name string
		r    *http.Request
	}{
		{"h1", r1},
		{"h2", h2("")},
		{"h2-cookie", h2("session=abcdef0123456789")},
		{"h2-crumbs", h2("a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; i=9; j=10; k=11; session=abcdef0123456789")},
	}
}

func BenchmarkHeaderFootprint(b *testing.B) {
	for _, tc := range headRequests(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				headerFootprint(tc.r)
			}
		})
	}
}

func BenchmarkLimiterCheck(b *testing.B) {
	lim, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range headRequests(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := lim.Check(tc.r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCheckAllocations(t *testing.T) {
	lim, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range headRequests(t) {
		if n := testing.AllocsPerRun(100, func() { _ = lim.Check(tc.r) }); n != 0 {
			t.Errorf("%s: %v allocations", tc.name, n)
		}
	}
}
