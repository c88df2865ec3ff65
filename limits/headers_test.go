package limits

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// The Go client adds only User-Agent (set explicitly here) to a GET: the test
// transports disable compression, so there is no Accept-Encoding.
const testUA = "wh"

func uaHeader() http.Header { return http.Header{"User-Agent": {testUA}} }

// fixedFields is what a test request to path "/" carries besides the fields
// under test, as Kestrel counts it for the server's protocol: User-Agent,
// Host over HTTP/1 (each line with ": " and CRLF), and over HTTP/2 the four
// pseudo-header fields Go's client sends (each its name and value).
func fixedFields(s *testserver.Server) (count, size int) {
	if s.Proto.IsHTTP2() {
		scheme := "http"
		if s.Proto.IsTLS() {
			scheme = "https"
		}
		return 5, len("user-agent") + len(testUA) + len(":method") + len("GET") +
			len(":scheme") + len(scheme) + len(":authority") + len(s.Addr()) + len(":path") + len("/")
	}
	return 2, len("User-Agent") + len(testUA) + fieldOverhead + len("Host") + len(s.Addr()) + fieldOverhead
}

// fieldsOfSize returns n header fields that total size bytes as Kestrel
// counts them over s's protocol: headerOfSize's fields, each value longer by
// the ": " and CRLF an HTTP/2 field does not count.
func fieldsOfSize(s *testserver.Server, n, size int) http.Header {
	if s.Proto.IsHTTP2() {
		size += n * fieldOverhead
	}
	return headerOfSize(n, size)
}

// TestRequestLineBoundary: a request line of exactly the limit passes and
// one byte more gets 414, over plaintext HTTP/1.1 (measured on the wire),
// HTTP/1.1 over TLS (measured after net/http's parse, the CRLF included as
// well) and HTTP/2 (Kestrel's pseudo-header sum).
func TestRequestLineBoundary(t *testing.T) {
	for _, p := range append([]proto{h1tls}, allProtos...) {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			// The path that makes the line exactly n bytes long.
			pathFor := func(n int) string {
				fixed := len("GET") + len(" ") + len(" HTTP/1.1") + len("\r\n")
				if s.Proto == h2tls || s.Proto == h2c {
					scheme := "http"
					if s.Proto == h2tls {
						scheme = "https"
					}
					fixed = len("GET") + len(scheme) + len(s.Addr())
				}
				return "/" + strings.Repeat("a", n-fixed-1)
			}
			code, _ := s.Get(t, pathFor(DefaultMaxRequestLineSize), uaHeader())
			assert.Equal(t, 200, code, "a line of exactly the limit passes")
			code, body := s.Get(t, pathFor(DefaultMaxRequestLineSize+1), uaHeader())
			assert.Equal(t, http.StatusRequestURITooLong, code, "one byte more is refused")
			assert.Equal(t, "Request URI Too Long\n", body)
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonRequestLineTooLong])
		})
	}
}

func TestHeaderCountBoundary(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			fixedCount, _ := fixedFields(s)
			fields := func(n int) http.Header {
				h := fieldsOfSize(s, n-fixedCount, 20*(n-fixedCount))
				h["User-Agent"] = []string{testUA}
				return h
			}
			code, _ := s.Get(t, "/", fields(DefaultMaxRequestHeaderCount))
			assert.Equal(t, 200, code, "exactly the limit passes")
			code, body := s.Get(t, "/", fields(DefaultMaxRequestHeaderCount+1))
			assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, code)
			assert.Equal(t, "Request Header Fields Too Large\n", body)
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonTooManyHeaders])
		})
	}
}

func TestHeadersTotalSizeBoundary(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			_, fixedSize := fixedFields(s)
			fields := func(size int) http.Header {
				h := fieldsOfSize(s, 40, size-fixedSize)
				h["User-Agent"] = []string{testUA}
				return h
			}
			code, _ := s.Get(t, "/", fields(DefaultMaxRequestHeadersTotalSize))
			assert.Equal(t, 200, code, "exactly the limit passes")
			code, _ = s.Get(t, "/", fields(DefaultMaxRequestHeadersTotalSize+1))
			assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, code)
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonHeadersTooLarge])
		})
	}
}

// rawHead builds an HTTP/1.1 request head whose field lines (Host and the
// extra ones given), with trailers bytes more to come in a chunked body's
// trailers, total exactly size bytes as sent, each line with its CRLF, as
// Kestrel counts them.
func rawHead(host, line string, extra []string, trailers, size int) string {
	var b strings.Builder
	b.WriteString(line + "\r\nHost: " + host + "\r\n")
	used := len("Host: ") + len(host) + len("\r\n") + trailers
	for _, f := range extra {
		b.WriteString(f + "\r\n")
		used += len(f) + len("\r\n")
	}
	pad := size - used - len("X-Pad: \r\n")
	b.WriteString("X-Pad: " + strings.Repeat("p", pad) + "\r\n\r\n")
	return b.String()
}

// TestRawHeaderCounting measures heads on the wire through the Listener,
// as Kestrel does: the fields net/http takes out of Request.Header count,
// whitespace around values counts as sent, and a chunked body's trailers
// count toward the same budget, their blank line included: only the head's
// is free (their refusal fails the body's read, and the Limiter answers 431
// for a handler that wrote nothing).
func TestRawHeaderCounting(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		extra    []string
		body     string
		trailers int
	}{
		{"plain", "GET / HTTP/1.1", nil, "", 0},
		{"whitespace around values", "GET / HTTP/1.1", []string{"X-A:    spaced   ", "X-B:\tv", "X-C:v"}, "", 0},
		{"repeated names", "GET / HTTP/1.1", []string{"X-R: 1", "X-R: 2", "X-R: 3"}, "", 0},
		{"chunked", "POST / HTTP/1.1", []string{"Transfer-Encoding: chunked"}, "3\r\nabc\r\n0\r\n\r\n", 0},
		{"chunked with trailer", "POST / HTTP/1.1", []string{"Transfer-Encoding: chunked", "Trailer: X-T"}, "1\r\na\r\n0\r\nX-T: 1\r\n\r\n", len("X-T: 1\r\n\r\n")},
		{"pragma alone", "GET / HTTP/1.1", []string{"Pragma: no-cache"}, "", 0},
		{"content length", "POST / HTTP/1.1", []string{"Content-Length: 3"}, "abc", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim, err := New(Config{MaxRequestHeadersTotalSize: 1000})
			require.NoError(t, err)
			s := serve(t, lim, echoLen(true, nil), h1)
			c := dial(t, s.Addr())
			c.Send(t, rawHead(s.Addr(), tt.line, tt.extra, tt.trailers, 1000)+tt.body)
			res, _ := c.Response(t)
			assert.Equal(t, 200, res.StatusCode, "exactly the limit passes")

			c = dial(t, s.Addr())
			c.Send(t, rawHead(s.Addr(), tt.line, tt.extra, tt.trailers, 1001)+tt.body)
			res, _ = c.Response(t)
			assert.Equal(t, 431, res.StatusCode, "one byte more is refused")
			assert.True(t, res.Close, "Connection: close")
			assert.True(t, c.ClosedByPeer(t), "the connection is closed")
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonHeadersTooLarge])
		})
	}
}

func TestHTTP10WithoutHost(t *testing.T) {
	lim, err := New(Config{MaxRequestHeaderCount: 1})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	c := dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.0\r\nX-One: 1\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "no Host, one field")
	c = dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.0\r\nX-One: 1\r\nX-Two: 2\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 431, res.StatusCode)
}

// TestHugeHeaderStopped: far past the limits, a head is refused before it
// is parsed into memory: on the wire through the Listener, as soon as the
// limit is crossed, and by net/http's MaxHeaderBytes (set by Apply) on a
// server without the Listener. The status is 431 either way.
func TestHugeHeaderStopped(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	var srv http.Server
	require.NoError(t, lim.Apply(&srv))
	require.Equal(t, 8192+2+32768+2+32*104, srv.MaxHeaderBytes)
	for _, listener := range []bool{true, false} {
		lim, err := New(Config{})
		require.NoError(t, err)
		s := startServer(t, lim.Handler(hello), h1, func(ts *httptest.Server) {
			require.NoError(t, lim.Apply(ts.Config))
			if listener {
				ts.Listener = lim.Listener(ts.Listener)
			}
		})
		c := dial(t, s.Addr())
		c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 200<<10)+"\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		assert.Equal(t, 431, res.StatusCode)
		if listener {
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonHeadersTooLarge], "the wire answered")
		} else {
			assert.Zero(t, lim.Stats().Rejected[ReasonHeadersTooLarge], "net/http answered, not the Handler")
		}
	}
}

func TestHeaderFootprintTable(t *testing.T) {
	tests := []struct {
		raw         string
		count, size int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 4 + 1 + 4},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 22\r\n\r\n", 3, 9 + 6 + 7},
		{"GET http://abs/ HTTP/1.1\r\nHost: abs\r\n\r\n", 1, 4 + 3 + 4},
		{"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", 2, 9 + 6 + 8 + 4},
		{"GET / HTTP/1.0\r\n\r\n", 0, 0},
	}
	for _, tt := range tests {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.raw)))
		require.NoError(t, err, tt.raw)
		count, size := headerFootprint(r)
		assert.Equal(t, tt.count, count, "count of %q", tt.raw)
		assert.Equal(t, tt.size, size, "size of %q", tt.raw)
	}
}

func TestHeaderFootprintOfBuiltRequests(t *testing.T) {
	// Requests built by code rather than parsed may hold empty value lists.
	r := &http.Request{ProtoMajor: 1, Header: http.Header{"Pragma": {}, "Cache-Control": {}, "X-Empty": nil}}
	count, size := headerFootprint(r)
	assert.Zero(t, count)
	assert.Zero(t, size)
}

func TestRequestLineSizeTable(t *testing.T) {
	for _, raw := range []string{
		"GET / HTTP/1.1",
		"OPTIONS * HTTP/1.1",
		"CONNECT example.com:443 HTTP/1.1",
		"GET http://example.com/a?b=c HTTP/1.1",
		"PURGE /x HTTP/1.0",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\nHost: h\r\n\r\n")))
		require.NoError(t, err, raw)
		assert.Equal(t, len(raw+"\r\n"), requestLineSize(r), raw)
	}
	h2 := &http.Request{Method: "GET", ProtoMajor: 2, Host: "example.com", RequestURI: "/p?q"}
	assert.Equal(t, len("GET")+len("http")+len("example.com")+len("/p?q"), requestLineSize(h2))
	connect := &http.Request{Method: "CONNECT", ProtoMajor: 2, Host: "example.com:443", RequestURI: "example.com:443"}
	assert.Equal(t, len("CONNECT")+len("example.com:443"), requestLineSize(connect))
}

// FuzzHeaderFootprint checks the count against the header block as written:
// whatever fields a request carries, headerFootprint must find as many lines
// as were sent and the same bytes, after net/http has parsed and rearranged
// them.
func FuzzHeaderFootprint(f *testing.F) {
	f.Add("X-A", "1", "Cookie", "a=b", "Transfer-Encoding", "chunked", uint8(3))
	f.Add("Content-Length", "0", "X-B", "  padded  ", "Trailer", "X-T", uint8(1))
	f.Add("Pragma", "no-cache", "Accept", "*/*", "X-C", "", uint8(2))
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string, repeat uint8) {
		for _, s := range []string{n1, v1, n2, v2, n3, v3} {
			if strings.ContainsAny(s, "\r\n") {
				return // more lines than fields: the reference would miscount
			}
		}
		for _, n := range []string{n1, n2, n3} {
			if n == "" || n[0] == ' ' || n[0] == '\t' {
				// An obsolete line folding: net/http joins it to the
				// previous field, as RFC 9112 allows, and so does the count.
				return
			}
			if strings.Trim(n, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return // not a field name
			}
		}
		var b strings.Builder
		b.WriteString("POST / HTTP/1.1\r\nHost: h.example\r\n")
		wantCount, wantSize := 1, len("Host")+len("h.example")+fieldOverhead
		for range repeat % 4 {
			for _, f := range [][2]string{{n1, v1}, {n2, v2}, {n3, v3}} {
				fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
				wantCount++
				wantSize += len(f[0]) + len(strings.Trim(f[1], " \t")) + fieldOverhead
			}
		}
		b.WriteString("\r\n")
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
		if err != nil {
			return // not a request net/http would serve
		}
		if p := r.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" && len(r.Header["Cache-Control"]) == 1 {
			return // the documented ambiguity
		}
		if repeat%4 > 1 && len(r.Header["Content-Length"]) == 1 {
			return // repeated identical Content-Length fields, merged by net/http
		}
		count, size := headerFootprint(r)
		if len(r.Trailer) > 0 {
			return // the Trailer line is rebuilt, its spelling may differ
		}
		if count != wantCount || size != wantSize {
			t.Fatalf("got %d fields in %d bytes, sent %d in %d:\n%q", count, size, wantCount, wantSize, b.String())
		}
	})
}
