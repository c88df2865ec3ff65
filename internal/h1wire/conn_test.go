package h1wire

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/windhover/windhover/internal/testserver"
)

// TestLimits sends heads at each limit and one byte over it: the first is
// served and the connection kept, the second answered and closed.
func TestLimits(t *testing.T) {
	line8190 := "GET /" + strings.Repeat("a", 8190-len("GET / HTTP/1.1")) + " HTTP/1.1"
	host := "Host: a\r\n" // 9 bytes, a field line like any other
	tests := []struct {
		name string
		cfg  Config
		pass string // a request at the limit
		fail string // the same, one over
		why  Reason
	}{
		{
			name: "Kestrel's request line test",
			cfg:  Config{MaxRequestLineSize: 16},
			pass: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			fail: "GET /a HTTP/1.1\r\nHost: a\r\n\r\n",
			why:  ReasonRequestLineTooLong,
		},
		{
			name: "request line limit 15",
			cfg:  Config{MaxRequestLineSize: 15},
			pass: "GET / HTTP/1.1\nHost: a\r\n\r\n", // a bare LF is one byte
			fail: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			why:  ReasonRequestLineTooLong,
		},
		{
			name: "default request line",
			pass: line8190 + "\r\n" + host + "\r\n",
			fail: strings.Replace(line8190, "/", "/a", 1) + "\r\n" + host + "\r\n",
			why:  ReasonRequestLineTooLong,
		},
		{
			name: "default header total",
			pass: "GET / HTTP/1.1\r\n" + host + fields(10, 32768-len(host)) + "\r\n",
			fail: "GET / HTTP/1.1\r\n" + host + fields(10, 32769-len(host)) + "\r\n",
			why:  ReasonHeadersTooLarge,
		},
		{
			name: "whitespace counts",
			cfg:  Config{MaxRequestHeadersTotalSize: 20},
			pass: "GET / HTTP/1.1\r\nHost:   a  \r\nX:\t  \r\n\r\n", // 13 + 7, and the blank line
			fail: "GET / HTTP/1.1\r\nHost:   a  \r\nX:\t   \r\n\r\n",
			why:  ReasonHeadersTooLarge,
		},
		{
			name: "default header count, Host included",
			pass: "GET / HTTP/1.1\r\n" + host + fields(99, 99*10) + "\r\n",
			fail: "GET / HTTP/1.1\r\n" + host + fields(100, 100*10) + "\r\n",
			why:  ReasonTooManyHeaders,
		},
		{
			name: "an empty Host counts",
			cfg:  Config{MaxRequestHeaderCount: 2},
			pass: "GET / HTTP/1.1\r\nHost:\r\nX: 1\r\n\r\n",
			fail: "GET / HTTP/1.1\r\nHost:\r\nHost:\r\nX: 1\r\n\r\n",
			why:  ReasonTooManyHeaders,
		},
		{
			name: "obsolete line folding",
			pass: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n",
			fail: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
			why:  ReasonObsFold,
		},
		{
			name: "Host syntax",
			pass: "GET / HTTP/1.1\r\nHost: a-b.example:8080\r\n\r\n",
			fail: "GET / HTTP/1.1\r\nHost: a=b\r\n\r\n",
			why:  ReasonInvalidHost,
		},
		{
			name: "IPv6 Host",
			pass: "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
			fail: "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
			why:  ReasonInvalidHost,
		},
		{
			name: "Host required in HTTP/1.1",
			pass: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			fail: "GET / HTTP/1.1\r\n\r\n",
			why:  ReasonInvalidHost,
		},
		{
			name: "one Host",
			pass: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			fail: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
			why:  ReasonInvalidHost,
		},
		{
			name: "absolute-form target and Host",
			pass: "GET http://a:80/x HTTP/1.1\r\nHost: A\r\n\r\n",
			fail: "GET http://a:8080/x HTTP/1.1\r\nHost: a\r\n\r\n",
			why:  ReasonHostMismatch,
		},
		{
			name: "absolute-form target names another host",
			pass: "GET https://a/ HTTP/1.1\r\nHost: a:443\r\n\r\n",
			fail: "GET https://evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n",
			why:  ReasonHostMismatch,
		},
		{
			name: "asterisk-form is for OPTIONS",
			pass: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			fail: "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
			why:  ReasonInvalidTarget,
		},
		{
			name: "authority-form is for CONNECT",
			pass: "GET / HTTP/1.1\r\nHost: a:443\r\n\r\n",
			fail: "GET a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
			why:  ReasonInvalidTarget,
		},
		{
			name: "an HTTP/1.0 POST says its length",
			pass: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
			fail: "POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			why:  ReasonLengthRequired,
		},
		{
			name: "an HTTP/1.0 PUT says its length, an HTTP/1.1 one need not",
			pass: "PUT / HTTP/1.1\r\nHost: a\r\n\r\n",
			fail: "PUT / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			why:  ReasonLengthRequired,
		},
		{
			name: "HTTP versions",
			pass: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			fail: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
			why:  ReasonHTTPVersion,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := start(t, tt.cfg, echo, testserver.H1)
			c := testserver.Dial(t, s.Addr())
			for range 2 { // served, and the connection kept
				c.Send(t, tt.pass)
				if res, _ := c.Response(t); res.StatusCode != http.StatusOK {
					t.Fatalf("at the limit: %d, want 200", res.StatusCode)
				}
			}

			c = testserver.Dial(t, s.Addr())
			c.Send(t, tt.fail)
			expectAnswer(t, c, tt.why)
			if got := d.list(); len(got) != 1 || got[0].Reason != tt.why || !errors.Is(got[0], sentinels[tt.why]) {
				t.Fatalf("decisions %v, want one %v", got, tt.why)
			}
		})
	}
}

// TestAnswerWithoutTheRest checks that a request line or a head over its
// limit is answered at once, before the client sends the rest.
func TestAnswerWithoutTheRest(t *testing.T) {
	tests := []struct {
		name, head string
		why        Reason
	}{
		{"request line", "GET /" + strings.Repeat("a", 8192), ReasonRequestLineTooLong},
		{"header total", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 32768), ReasonHeadersTooLarge},
		{"header count", "GET / HTTP/1.1\r\n" + strings.Repeat("X: 1\r\n", 101), ReasonTooManyHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := start(t, Config{}, echo, testserver.H1)
			c := testserver.Dial(t, s.Addr())
			c.Send(t, tt.head)
			expectAnswer(t, c, tt.why)
		})
	}
}

// TestPipelined sends a good request and a bad one in one write: the first
// is served, the second answered after it.
func TestPipelined(t *testing.T) {
	s, _ := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"+
		get("/2")+
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n")
	expect(t, c, http.StatusOK, "POST 5 5")
	expect(t, c, http.StatusOK, "GET 0 0")
	expect(t, c, http.StatusOK, "POST 3 13")
	expectAnswer(t, c, ReasonObsFold)
}

// TestBodyBytes checks the body count: framing, extensions and the final
// CRLF of a chunked body included, trailers not.
func TestBodyBytes(t *testing.T) {
	tests := []struct {
		name, req, want string
	}{
		{"Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", "POST 11 11"},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n",
			fmt.Sprintf("POST 5 %d", len("5;name=value\r\nhello\r\n0\r\n\r\n"))},
		{"chunked with trailers", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
			fmt.Sprintf("POST 5 %d", len("5\r\nhello\r\n0\r\n"))},
		{"GET with a body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", "GET 2 2"},
		{"no body", get("/"), "GET 0 0"},
	}
	s, _ := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	for _, tt := range tests {
		c.Send(t, tt.req)
		res, body := c.Response(t)
		if res.StatusCode != http.StatusOK || body != tt.want {
			t.Errorf("%s: %d %q, want %q", tt.name, res.StatusCode, body, tt.want)
		}
	}
}

// TestTrailers checks that trailers share the head's budget: at the limit
// the body reads, over it the read fails with the Wire's error.
func TestTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		e := FromContext(r.Context()).BodyError()
		switch {
		case e != nil:
			http.Error(w, fmt.Sprintf("%v trailer=%v", e.Reason, e.Trailer), e.Status())
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			fmt.Fprintf(w, "trailer %q", r.Trailer.Get("X-T"))
		}
	})
	chunked := func(trailers string) string {
		return "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n" + trailers + "\r\n"
	}
	tests := []struct {
		name      string
		cfg       Config
		req       string
		status    int
		body      string
		keepsOpen bool
	}{
		{"count at the limit", Config{MaxRequestHeaderCount: 3}, chunked("X-T: 1\r\n"), 200, `trailer "1"`, true},
		{"count over", Config{MaxRequestHeaderCount: 2}, chunked("X-T: 1\r\n"), 431, "too_many_headers trailer=true\n", false},
		// Host (9) + Transfer-Encoding (28) + blank (2) + trailer (8) +
		// blank (2) = 49: the trailers' blank line is not free.
		{"size at the limit", Config{MaxRequestHeadersTotalSize: 47}, chunked("X-T: 1\r\n"), 200, `trailer "1"`, true},
		{"size over", Config{MaxRequestHeadersTotalSize: 46}, chunked("X-T: 1\r\n"), 431, "headers_too_large trailer=true\n", false},
		{"folded", Config{}, chunked("X-T: 1\r\n 2\r\n"), 400, "obs_fold trailer=true\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := start(t, tt.cfg, h, testserver.H1)
			c := testserver.Dial(t, s.Addr())
			c.Send(t, tt.req)
			expect(t, c, tt.status, tt.body)
			if tt.keepsOpen {
				c.Send(t, get("/"))
				expect(t, c, 200, `trailer ""`)
			} else if !c.ClosedByPeer(t) {
				t.Fatal("connection still open after a failed body")
			}
		})
	}
}

// TestChunkedFraming checks that a body net/http refuses fails with the
// Wire's error and closes the connection.
func TestChunkedFraming(t *testing.T) {
	s, d := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n0\r\n\r\n")
	res, body := c.Response(t)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, ErrInvalidChunkedBody.Error()) {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if !c.ClosedByPeer(t) {
		t.Fatal("connection still open")
	}
	if got := d.list(); len(got) != 1 || got[0].Reason != ReasonInvalidChunkedBody {
		t.Fatalf("decisions %v", got)
	}
}

// TestHostEachRequest checks Host on every request of a connection, also
// after the same connection named a valid one.
func TestHostEachRequest(t *testing.T) {
	s, _ := start(t, Config{}, echo, testserver.H1)
	c := testserver.Dial(t, s.Addr())
	c.Send(t, get("/")+get("/"))
	expect(t, c, http.StatusOK, "GET 0 0")
	expect(t, c, http.StatusOK, "GET 0 0")
	c.Send(t, "GET / HTTP/1.1\r\nHost: a;b\r\n\r\n")
	expectAnswer(t, c, ReasonInvalidHost)
}
