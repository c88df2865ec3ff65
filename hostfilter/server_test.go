package hostfilter

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// recorder collects what OnReject reports.
type recorder struct {
	mu   sync.Mutex
	errs []*Error
}

func (rec *recorder) onReject(r *http.Request, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.errs = append(rec.errs, err.(*Error))
}

func (rec *recorder) taken() []*Error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	errs := rec.errs
	rec.errs = nil
	return errs
}

// get11 is an HTTP/1.1 request for / naming host.
func get11(host string) string { return "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n" }

// serveRaw starts hello behind a filter for cfg over plain HTTP/1.
func serveRaw(t *testing.T, cfg Config) (*Filter, *testserver.Server) {
	t.Helper()
	f, err := New(cfg)
	require.NoError(t, err)
	return f, testserver.Start(t, f.Handler(hello), testserver.H1)
}

var serverPatterns = []string{"example.com", "*.example.com", "[::1]", "127.0.0.1", "10.0.0.0/8"}

// TestRawHTTP1 sends what a normal client would not and checks the exact
// answer: ours (400 "invalid hostname\n", connection kept), net/http's own
// (400 before the handler, connection closed), or the handler's.
func TestRawHTTP1(t *testing.T) {
	testserver.CheckNoLeaks(t)
	const (
		ours    = "ours"
		netHTTP = "net/http"
		passed  = "passed"
	)
	for _, tt := range []struct {
		name    string
		request string
		want    string // who answers
		body    string // net/http's body, when it answers
		reason  Reason
	}{
		{"exact", get11("example.com"), passed, "", 0},
		{"uppercase with port", get11("EXAMPLE.COM:8080"), passed, "", 0},
		{"trailing dot", get11("example.com."), passed, "", 0},
		{"wildcard depth", get11("a.b.example.com"), passed, "", 0},
		{"IPv6 as an address", get11("[0:0::1]:8080"), passed, "", 0},
		{"CIDR", get11("10.1.2.3"), passed, "", 0},
		{"CIDR, IPv4-mapped", get11("[::ffff:10.1.2.3]"), passed, "", 0},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", passed, "", 0},
		{"empty Host field", get11(""), passed, "", 0},
		{"absolute form names an allowed host", "GET http://example.com/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", passed, "", 0},
		{"absolute form names another host", "GET http://evil.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n", ours, "", ReasonHostNotAllowed},
		{"absolute form, HTTP/1.0", "GET http://evil.example/ HTTP/1.0\r\n\r\n", ours, "", ReasonHostNotAllowed},
		{"other host", get11("evil.example"), ours, "", ReasonHostNotAllowed},
		{"apex of wildcard only", get11("example.com.evil"), ours, "", ReasonHostNotAllowed},
		{"HTTP/1.0 other host", "GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n", ours, "", ReasonHostNotAllowed},
		{"IP outside the prefix", get11("11.0.0.1"), ours, "", ReasonHostNotAllowed},
		{"empty label", get11("x..example.com"), ours, "", ReasonMalformedHost},
		{"leading dot", get11(".example.com"), ours, "", ReasonMalformedHost},
		{"double leading dot", get11("..example.com"), ours, "", ReasonMalformedHost},
		{"empty label far from the suffix", get11("..x.example.com"), ours, "", ReasonMalformedHost},
		{"bad port", get11("example.com:80x"), ours, "", ReasonMalformedHost},
		{"port out of range", get11("example.com:99999"), ours, "", ReasonMalformedHost},
		{"percent-encoding", get11("ex%61mple.com"), ours, "", ReasonMalformedHost},
		{"sub-delims", get11("example.com;x=1"), ours, "", ReasonMalformedHost},
		{"unbracketed IPv6", get11("::1"), ours, "", ReasonMalformedHost},
		{"short IPv4", get11("10.1"), ours, "", ReasonMalformedHost},
		{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", netHTTP, "400 Bad Request: missing required Host header", 0},
		{"two Host fields", "GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.example\r\n\r\n", netHTTP, "400 Bad Request", 0},
		{"space in Host", get11("exa mple.com"), netHTTP, "400 Bad Request: malformed Host header", 0},
		{"slash in Host", get11("example.com/x"), netHTTP, "400 Bad Request: malformed Host header", 0},
		{"userinfo in Host", get11("evil@example.com"), netHTTP, "400 Bad Request: malformed Host header", 0},
		{"UTF-8 in Host", get11("bücher.example"), netHTTP, "400 Bad Request: malformed Host header", 0},
		{"bad absolute form", "GET http://exa%zzmple.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", netHTTP, "400 Bad Request", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			f, s := serveRaw(t, Config{AllowedHosts: serverPatterns, OnReject: rec.onReject})
			c := testserver.Dial(t, s.Addr())
			c.Send(t, tt.request)
			res, body := c.Response(t)
			switch tt.want {
			case passed:
				assert.Equal(t, 200, res.StatusCode)
				assert.Equal(t, "hello\n", body)
				assert.Equal(t, Stats{Allowed: 1}, f.Stats())
				assert.Empty(t, rec.taken())
			case ours:
				assert.Equal(t, 400, res.StatusCode)
				assert.Equal(t, "invalid hostname\n", body)
				assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
				assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
				assert.Equal(t, int64(len(body)), res.ContentLength)
				var want Stats
				want.Rejected[tt.reason] = 1
				assert.Equal(t, want, f.Stats())
				if errs := rec.taken(); assert.Len(t, errs, 1) {
					assert.Equal(t, tt.reason, errs[0].Reason)
				}
				if !res.Close {
					// As in Kestrel, the connection serves the next request.
					c.Send(t, get11("www.example.com"))
					res, body = c.Response(t)
					assert.Equal(t, 200, res.StatusCode)
					assert.Equal(t, "hello\n", body)
				}
				assert.Equal(t, strings.HasSuffix(tt.request[:strings.Index(tt.request, "\r\n")], "1.0"), res.Close,
					"kept open unless HTTP/1.0")
			case netHTTP:
				assert.Equal(t, 400, res.StatusCode)
				assert.Equal(t, tt.body, body)
				assert.True(t, res.Close)
				assert.True(t, c.ClosedByPeer(t))
				assert.Equal(t, Stats{}, f.Stats(), "the handler never ran")
			}
		})
	}
}

func TestRawHTTP1Options(t *testing.T) {
	testserver.CheckNoLeaks(t)
	f, s := serveRaw(t, Config{AllowedHosts: []string{"example.com"}, RejectEmptyHost: true, OmitFailureMessage: true})
	for _, req := range []string{
		"GET / HTTP/1.0\r\n\r\n",
		get11(""),
		get11("evil.example"),
	} {
		c := testserver.Dial(t, s.Addr())
		c.Send(t, req)
		res, body := c.Response(t)
		assert.Equal(t, 400, res.StatusCode, req)
		assert.Empty(t, body, req)
		assert.Equal(t, int64(0), res.ContentLength, req)
		assert.Empty(t, res.Header.Get("Content-Type"), req)
	}
	c := testserver.Dial(t, s.Addr())
	c.Send(t, get11("example.com"))
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "hello\n", body)
	assert.Equal(t, Stats{Allowed: 1, Rejected: [NumReasons]uint64{ReasonEmptyHost: 2, ReasonHostNotAllowed: 1}}, f.Stats())
}

// TestClients uses net/http's own client over every protocol: it cannot
// forge a host, but shows the filter in the place users put it.
func TestClients(t *testing.T) {
	testserver.CheckNoLeaks(t)
	for _, p := range []testserver.Proto{testserver.H1, testserver.H1TLS, testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			f := Allow("example.com", "127.0.0.1")
			s := testserver.Start(t, f.Handler(hello), p)
			status, body := s.Get(t, "/", nil)
			assert.Equal(t, 200, status, "127.0.0.1 from the URL")
			assert.Equal(t, "hello\n", body)

			req, err := http.NewRequest("GET", s.URL+"/", nil)
			require.NoError(t, err)
			req.Host = "Example.COM:443"
			status, body = s.Do(t, req)
			assert.Equal(t, 200, status)
			assert.Equal(t, "hello\n", body)

			req.Host = "www.example.com"
			status, body = s.Do(t, req)
			assert.Equal(t, 400, status)
			assert.Equal(t, "invalid hostname\n", body)
			assert.Equal(t, Stats{Allowed: 2, Rejected: [NumReasons]uint64{ReasonHostNotAllowed: 1}}, f.Stats())
		})
	}
}

// TestRefusedBodyClosesConnection sends a refused request whose body never
// comes: the 400 arrives at once and the connection closes, where net/http
// alone would first wait to read the body to keep the connection.
func TestRefusedBodyClosesConnection(t *testing.T) {
	testserver.CheckNoLeaks(t)
	f, s := serveRaw(t, Config{AllowedHosts: serverPatterns})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 100000\r\n\r\nabc")
	start := time.Now()
	res, body := c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "invalid hostname\n", body)
	assert.True(t, res.Close, "Connection: close")
	assert.True(t, c.ClosedByPeer(t))
	assert.Less(t, time.Since(start), 3*time.Second, "closed at once, not by the test's 5 s read deadline")
	assert.Equal(t, uint64(1), f.Stats().RejectedTotal())
}

// TestAbsoluteFormHTTP1 shows why HTTP/1 needs nothing more than r.Host:
// net/http makes the authority of an absolute-form target (or of CONNECT)
// r.Host, as RFC 9112 requires, and drops the Host field, so the application
// meets one host only, the one judged.
func TestAbsoluteFormHTTP1(t *testing.T) {
	testserver.CheckNoLeaks(t)
	var seen []string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Host+" "+r.URL.Host+" "+strings.Join(r.Header["Host"], ","))
		_, _ = io.WriteString(w, "hello\n")
	})
	f := Allow("localhost")
	s := testserver.Start(t, f.Handler(app), testserver.H1)
	for _, tt := range []struct {
		request string
		status  int
	}{
		{"GET http://evil.example/admin HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
		{"GET http://localhost@evil.example/admin HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
		{"CONNECT evil.example:443 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
		{"GET http://localhost/admin HTTP/1.1\r\nHost: evil.example\r\n\r\n", 200},
	} {
		c := testserver.Dial(t, s.Addr())
		c.Send(t, tt.request)
		res, _ := c.Response(t)
		assert.Equal(t, tt.status, res.StatusCode, tt.request)
	}
	assert.Equal(t, []string{"localhost localhost "}, seen, "the Host field of the last request is gone")
}

// TestListenEverywhereOverSocket serves behind AllowedHosts "[::]" and
// "0.0.0.0", read as from configuration, and checks over a raw connection
// that any well-formed host, and an empty one, is served as with "*", while
// a malformed one is still refused.
func TestListenEverywhereOverSocket(t *testing.T) {
	for _, allowed := range []string{"[::]", "0.0.0.0", "*"} {
		t.Run(allowed, func(t *testing.T) {
			_, s := serveRaw(t, Config{AllowedHosts: ParseAllowedHosts(allowed)})
			c := testserver.Dial(t, s.Addr())
			for _, req := range []string{get11("evil.example"), get11("192.0.2.1:8080"), get11("[2001:db8::1]"), get11("")} {
				c.Send(t, req)
				res, body := c.Response(t)
				assert.Equal(t, 200, res.StatusCode, "%q", req)
				assert.Equal(t, "hello\n", body, "%q", req)
			}
			c.Send(t, get11("x..example.com"))
			res, body := c.Response(t)
			assert.Equal(t, 400, res.StatusCode)
			assert.Equal(t, "invalid hostname\n", body)
		})
	}
}
