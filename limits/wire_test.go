package limits

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/h1wire"
	"github.com/windhover/windhover/internal/testserver"
)

// refusal is one call of OnReject.
type refusal struct {
	r   *http.Request
	err *Error
}

// refusalLog records the calls of OnReject.
type refusalLog struct {
	mu   sync.Mutex
	list []refusal
}

func (rs *refusalLog) add(r *http.Request, err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var e *Error
	if !errors.As(err, &e) {
		panic(fmt.Sprintf("OnReject got %T", err))
	}
	rs.list = append(rs.list, refusal{r, e})
}

func (rs *refusalLog) all() []refusal {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]refusal(nil), rs.list...)
}

// wireServer starts h behind a Limiter for cfg through its Listener, Apply
// and Handler, over plaintext HTTP/1.1, and returns the server, the Limiter
// and what it reported.
func wireServer(t *testing.T, cfg Config, h http.Handler) (*testserver.Server, *Limiter, *refusalLog) {
	t.Helper()
	rs := new(refusalLog)
	cfg.OnReject = rs.add
	lim := mustNew(t, cfg)
	return serve(t, lim, h, h1), lim, rs
}

// expectWireAnswer reads the answer to a head refused on the wire, checks
// its status, its Connection: close and that the connection closes, and
// that the refusal was counted under reason and reported without a request,
// with the client's address.
func expectWireAnswer(t *testing.T, c *testserver.Conn, lim *Limiter, rs *refusalLog, reason Reason) {
	t.Helper()
	res, body := c.Response(t)
	assert.Equal(t, reason.Status(), res.StatusCode, "%v", reason)
	assert.Equal(t, http.StatusText(reason.Status())+"\n", body)
	assert.True(t, res.Close, "Connection: close")
	assert.True(t, c.ClosedByPeer(t), "the connection is closed")
	assert.EqualValues(t, 1, lim.Stats().Rejected[reason], "counted as %v", reason)
	assert.EqualValues(t, 1, lim.Stats().RejectedTotal(), "counted once")
	got := rs.all()
	if assert.Len(t, got, 1) {
		assert.Nil(t, got[0].r, "no request: net/http never made one")
		assert.Equal(t, reason, got[0].err.Reason)
		assert.ErrorIs(t, got[0].err, reason.sentinel())
		assert.NotNil(t, got[0].err.Addr, "the client's address")
	}
}

// okHandler answers "ok" after reading the body.
var okHandler = echoLen(false, nil)

// TestWireRequestLine: the request line counts its CRLF (Kestrel's test:
// "GET / HTTP/1.1\r\n" passes a limit of 16), and a line one byte longer
// gets 414 as soon as its 16 bytes have come without their end, before the
// head ends.
func TestWireRequestLine(t *testing.T) {
	s, lim, rs := wireServer(t, Config{MaxRequestLineSize: 16}, okHandler)
	c := dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "16 bytes with the CRLF pass")
	c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "the connection carries a next request")

	c = dial(t, s.Addr())
	c.Send(t, "GET /a HTTP/1.1") // 15 bytes: the line may still end at 16
	c.Send(t, "\r")              // 16 bytes and no LF: 17 at least
	expectWireAnswer(t, c, lim, rs, ReasonRequestLineTooLong)
	assert.EqualValues(t, 16, rs.all()[0].err.Limit)
	assert.Zero(t, lim.Stats().InexactHTTP1Requests)
}

// fieldsAsSent returns an empty "Host:" line, lines with whitespace around
// their values, and a padding line, which total n bytes as sent.
func fieldsAsSent(n int) string {
	lines := "Host:\r\nX-A:   spaced  \r\nX-B:\tv\t\r\nX-C:v\r\n"
	return lines + "X-Pad: " + strings.Repeat("p", n-len(lines)-len("X-Pad: \r\n")) + "\r\n"
}

// TestWireHeadersTotalSize: every field line counts as sent, its CRLF and
// the whitespace around its value included, an empty Host a 7-byte line;
// the blank line is free. One byte more gets 431 before the head ends.
func TestWireHeadersTotalSize(t *testing.T) {
	s, lim, rs := wireServer(t, Config{MaxRequestHeadersTotalSize: 200}, okHandler)
	c := dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\n"+fieldsAsSent(200)+"\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "200 bytes as sent pass")

	c = dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\n"+fieldsAsSent(201)+"\r\n")
	expectWireAnswer(t, c, lim, rs, ReasonHeadersTooLarge)
	assert.EqualValues(t, 200, rs.all()[0].err.Limit)

	// A line that goes past the limit is refused before it ends.
	s, lim, rs = wireServer(t, Config{MaxRequestHeadersTotalSize: 200}, okHandler)
	c = dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\n"+fieldsAsSent(190)+"X-Long: "+strings.Repeat("v", 20))
	expectWireAnswer(t, c, lim, rs, ReasonHeadersTooLarge)
}

// TestWireHeaderCount: every field line counts, an empty Host included, and
// each of the lines that share a name (net/http merges them into one key):
// 100 pass, the 101st gets 431 before the head ends.
func TestWireHeaderCount(t *testing.T) {
	for _, tt := range []struct {
		name string
		line func(i int) string // the field line after Host
		host string
	}{
		{"distinct names, an empty Host", func(i int) string { return fmt.Sprintf("X-%d: v\r\n", i) }, "Host:\r\n"},
		{"one name repeated", func(int) string { return "X: v\r\n" }, "Host: a\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			head := func(n int) string {
				var b strings.Builder
				b.WriteString("GET / HTTP/1.1\r\n" + tt.host)
				for i := range n - 1 {
					b.WriteString(tt.line(i))
				}
				return b.String()
			}
			s, lim, rs := wireServer(t, Config{}, okHandler)
			c := dial(t, s.Addr())
			c.Send(t, head(DefaultMaxRequestHeaderCount)+"\r\n")
			res, _ := c.Response(t)
			assert.Equal(t, 200, res.StatusCode, "100 field lines pass")

			c = dial(t, s.Addr())
			c.Send(t, head(DefaultMaxRequestHeaderCount+1))
			expectWireAnswer(t, c, lim, rs, ReasonTooManyHeaders)
			assert.EqualValues(t, 101, rs.all()[0].err.Size)
		})
	}
}

// TestWireFoldedLines: the heads with which net/http's joining of folded
// lines passed the limits (500 folded lines against 100 fields; 600 of
// 37,243 bytes against 32,768) get 400 at their first folded line, as in
// Kestrel, which refuses a field line that starts with whitespace; and the
// answer comes at that line, before the head ends.
func TestWireFoldedLines(t *testing.T) {
	const fold = " continued\r\n"                  // 12 bytes
	long := " " + strings.Repeat("v", 59) + "\r\n" // 62 bytes
	last := " " + strings.Repeat("v", 87) + "\r\n" // 90 bytes
	for _, tt := range []struct {
		name, head string
		size       int // the field lines' bytes, -1 for a head sent in part
	}{
		{"500 folded lines", "GET / HTTP/1.1\r\nHost: a\r\nX: 0\r\n" + strings.Repeat(fold, 500) + "\r\n", 9 + 6 + 500*len(fold)},
		{"600 folded lines of 37,243 bytes", "GET / HTTP/1.1\r\nHost: a\r\nX: 0\r\n" + strings.Repeat(long, 599) + last + "\r\n", 37243},
		{"before the head ends", "GET / HTTP/1.1\r\nHost: a\r\nX: 0\r\n" + fold, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.size > 0 {
				lines := tt.head[strings.Index(tt.head, "\r\n")+2 : len(tt.head)-2]
				require.Equal(t, tt.size, len(lines), "the field lines' bytes")
			}
			s, lim, rs := wireServer(t, Config{}, okHandler)
			c := dial(t, s.Addr())
			c.Send(t, tt.head)
			expectWireAnswer(t, c, lim, rs, ReasonObsFold)
		})
	}
}

// TestWireBadRequests: Kestrel's refusals of malformed heads that net/http
// would serve, each answered on the wire and the connection closed.
func TestWireBadRequests(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ok     string // a head that passes, beside the refused one
		head   string
		reason Reason
	}{
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", ReasonObsFold},
		{"Host a=b", "GET / HTTP/1.1\r\nHost: a.b\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a=b\r\n\r\n", ReasonInvalidHost},
		{"absolute-form host differs", "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n", ReasonHostMismatch},
		{"star for GET", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET * HTTP/1.1\r\nHost: a\r\n\r\n", ReasonInvalidTarget},
		{"HTTP/1.5", "GET / HTTP/1.0\r\n\r\n",
			"GET / HTTP/1.5\r\nHost: a\r\n\r\n", ReasonHTTPVersionNotSupported},
		{"HTTP/1.0 POST without a length", "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
			"POST / HTTP/1.0\r\n\r\n", ReasonLengthRequired},
		{"HTTP/1.0 PUT without a length", "PUT / HTTP/1.1\r\nHost: a\r\n\r\n",
			"PUT / HTTP/1.0\r\n\r\n", ReasonLengthRequired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, lim, rs := wireServer(t, Config{}, okHandler)
			c := dial(t, s.Addr())
			c.Send(t, tt.ok)
			res, _ := c.Response(t)
			assert.Equal(t, 200, res.StatusCode, "%q", tt.ok)

			c = dial(t, s.Addr())
			c.Send(t, tt.head)
			expectWireAnswer(t, c, lim, rs, tt.reason)
			assert.EqualValues(t, -1, rs.all()[0].err.Limit)
		})
	}
}

// chunkedPost is a chunked POST of body, the chunk framing as given, with
// the head's fields given besides Host.
func chunkedPost(fields, body string) string {
	return "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" + fields + "\r\n" + body
}

// TestWireTrailers: a chunked body's trailers count toward the header count
// and total size; over either the body's read fails and, the handler
// writing nothing, the client gets 431 and the connection closes. The
// refusal is reported with its request.
func TestWireTrailers(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cfg      Config
		pass     string
		fail     string
		reason   Reason
		limit    int64
		reported int64 // the refusal's Size
	}{
		// Host and Transfer-Encoding, then trailers up to 4 lines.
		{"count", Config{MaxRequestHeaderCount: 4},
			"1\r\nx\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
			"1\r\nx\r\n0\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n",
			ReasonTooManyHeaders, 4, 5},
		// Host: a (9) and Transfer-Encoding: chunked (28), then trailers
		// of 8 bytes each and the trailers' blank line, which is not free.
		{"size", Config{MaxRequestHeadersTotalSize: 9 + 28 + 8 + 8 + 2},
			"1\r\nx\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
			"1\r\nx\r\n0\r\nX-A: 1\r\nX-B: 22\r\n\r\n",
			ReasonHeadersTooLarge, 9 + 28 + 8 + 8 + 2, 9 + 28 + 8 + 8 + 2 + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, lim, rs := wireServer(t, tt.cfg, echoLen(true, nil))
			c := dial(t, s.Addr())
			c.Send(t, chunkedPost("", tt.pass))
			res, body := c.Response(t)
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "1", body)

			c = dial(t, s.Addr())
			c.Send(t, chunkedPost("", tt.fail))
			res, _ = c.Response(t)
			assert.Equal(t, 431, res.StatusCode)
			assert.True(t, res.Close)
			assert.True(t, c.ClosedByPeer(t))
			eventually(t, func() bool { return lim.Stats().RejectedTotal() == 1 }, "counted once: %v", lim.Stats().Rejected)
			assert.EqualValues(t, 1, lim.Stats().Rejected[tt.reason])
			got := rs.all()
			require.Len(t, got, 1)
			assert.NotNil(t, got[0].r, "reported with its request")
			assert.True(t, got[0].err.Trailer)
			assert.Equal(t, tt.limit, got[0].err.Limit)
			assert.Equal(t, tt.reported, got[0].err.Size)
			assert.ErrorIs(t, got[0].err, tt.reason.sentinel())
		})
	}
}

// TestWireBodyBoundary: a chunked body counts toward MaxRequestBodySize as
// Kestrel reads it, its chunk-size lines, extensions and CRLFs included:
// a body of exactly the limit so counted passes and the connection carries
// the next request; one byte more gets 413 and the connection closes. The
// per-request rules hold: SetMaxRequestBodySize until the first read,
// Unlimited, and NoBody, which serves a body without data.
func TestWireBodyBoundary(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("set"); v != "" {
			var n int64
			_, _ = fmt.Sscan(v, &n)
			require.NoError(t, SetMaxRequestBodySize(r, n))
		}
		echoLen(true, nil)(w, r)
	})
	const limit = 20
	post := func(target, body string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body
	}
	for _, tt := range []struct {
		name    string
		target  string
		body    string
		counted int // the body's length, what Kestrel counts
		code    int
	}{
		{"one chunk at the limit", "/", "a\r\n0123456789\r\n0\r\n\r\n", 20, 200},
		{"one chunk a byte over", "/", "b\r\n0123456789a\r\n0\r\n\r\n", 21, 413},
		{"an extension at the limit", "/", "5;e=12\r\nhello\r\n0\r\n\r\n", 20, 200},
		{"an extension a byte over", "/", "5;e=123\r\nhello\r\n0\r\n\r\n", 21, 413},
		{"two chunks at the limit", "/", "1\r\na\r\n4\r\nbcde\r\n0\r\n\r\n", 20, 200},
		{"two chunks a byte over", "/", "1\r\na\r\n5\r\nbcdef\r\n0\r\n\r\n", 21, 413},
		{"raised before the read", "/?set=21", "b\r\n0123456789a\r\n0\r\n\r\n", 21, 200},
		{"lowered before the read", "/?set=19", "a\r\n0123456789\r\n0\r\n\r\n", 20, 413},
		{"unlimited", "/?set=-1", "1000\r\n" + strings.Repeat("x", 4096) + "\r\n0\r\n\r\n", 4109, 200},
		{"no body: empty", "/?set=0", "0\r\n\r\n", 5, 200},
		{"no body: a byte", "/?set=0", "1\r\nx\r\n0\r\n\r\n", 11, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, tt.body, tt.counted)
			s, lim, rs := wireServer(t, Config{MaxRequestBodySize: limit}, h)
			c := dial(t, s.Addr())
			c.Send(t, post(tt.target, tt.body))
			res, _ := c.Response(t)
			require.Equal(t, tt.code, res.StatusCode, "%q", tt.body)
			if tt.code == 200 {
				c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				res, _ = c.Response(t)
				assert.Equal(t, 200, res.StatusCode, "the connection carries a next request")
				assert.Zero(t, lim.Stats().RejectedTotal())
				return
			}
			assert.True(t, res.Close)
			assert.True(t, c.ClosedByPeer(t))
			got := rs.all()
			require.Len(t, got, 1)
			assert.NotNil(t, got[0].r)
			assert.Equal(t, ReasonBodyTooLarge, got[0].err.Reason)
			var mbe *http.MaxBytesError
			assert.ErrorAs(t, got[0].err, &mbe)
			assert.Greater(t, got[0].err.Size, got[0].err.Limit, "the bytes counted")
		})
	}
}

// TestWireInvalidChunkedBody: a chunked body whose framing is broken fails
// the handler's read with ErrInvalidChunkedBody; the client gets 400 if the
// handler wrote nothing, and the refusal is reported with the request. With
// no limits handler reading the body, it is counted when the connection
// closes, without a request.
func TestWireInvalidChunkedBody(t *testing.T) {
	const broken = "3\r\nabcX\r\n0\r\n\r\n" // no CRLF after the chunk
	readErr := make(chan error, 1)
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		readErr <- err
	})

	s, lim, rs := wireServer(t, Config{}, silent)
	c := dial(t, s.Addr())
	c.Send(t, chunkedPost("", broken))
	res, _ := c.Response(t)
	assert.Equal(t, 400, res.StatusCode)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))
	err := <-readErr
	assert.ErrorIs(t, err, ErrInvalidChunkedBody)
	var e *Error
	assert.ErrorAs(t, err, &e)
	eventually(t, func() bool { return lim.Stats().ActiveConnections == 0 }, "the connection closed")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonInvalidChunkedBody])
	assert.EqualValues(t, 1, lim.Stats().RejectedTotal())
	got := rs.all()
	require.Len(t, got, 1)
	assert.NotNil(t, got[0].r, "reported with the request")

	// No limits handler: the application reads and answers; the Limiter
	// counts the wire's decision at the close.
	rs = new(refusalLog)
	lim = mustNew(t, Config{OnReject: rs.add})
	s = startServer(t, silent, h1, quietServerOf(t, lim))
	c = dial(t, s.Addr())
	c.Send(t, chunkedPost("", broken))
	res, _ = c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "the application's answer")
	assert.True(t, c.ClosedByPeer(t))
	assert.Error(t, <-readErr)
	eventually(t, func() bool { return lim.Stats().Rejected[ReasonInvalidChunkedBody] == 1 }, "counted at the close")
	got = rs.all()
	require.Len(t, got, 1)
	assert.Nil(t, got[0].r)
	assert.NotNil(t, got[0].err.Addr)
}

// timersListener wraps each connection with a wire Conn of another Wire,
// or joins it to the one already there, as the timeouts package's listener
// does.
type timersListener struct {
	net.Listener
	w *h1wire.Wire
}

func (l timersListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c, _ = l.w.Follow(c)
	return c, nil
}

// TestWireJoin stacks the Limiter's Listener with another package's wire
// listener of the timers' part, in either order: one Conn follows each
// connection, the Limiter's head limits and the other Wire's timers apply,
// and each decision is counted by the Wire whose part decided it.
func TestWireJoin(t *testing.T) {
	const headers = 300 * time.Millisecond
	for _, limitsOutside := range []bool{true, false} {
		t.Run(fmt.Sprintf("limits outside %v", limitsOutside), func(t *testing.T) {
			var decided sync.Map
			timers := h1wire.New(h1wire.Config{
				KeepAliveTimeout: time.Minute, RequestHeadersTimeout: headers, Parts: h1wire.PartTimers,
				OnReject: func(e *h1wire.Error) { decided.Store(e.Reason, true) },
			})
			rs := new(refusalLog)
			lim := mustNew(t, Config{MaxRequestLineSize: 16, OnReject: rs.add})
			var layers sync.Map
			s := startServer(t, lim.Handler(okHandler), h1, func(ts *httptest.Server) {
				require.NoError(t, lim.Apply(ts.Config))
				if limitsOutside {
					ts.Listener = lim.Listener(timersListener{ts.Listener, timers})
				} else {
					ts.Listener = timersListener{lim.Listener(ts.Listener), timers}
				}
				prev := ts.Config.ConnContext
				ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
					n := 0
					for l := c; l != nil; {
						if _, ok := l.(*h1wire.Conn); ok {
							n++
						}
						u, ok := l.(interface{ NetConn() net.Conn })
						if !ok {
							break
						}
						l = u.NetConn()
					}
					layers.Store(c.RemoteAddr().String(), n)
					return prev(ctx, c)
				}
			})

			c := dial(t, s.Addr())
			c.Send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			res, _ := c.Response(t)
			assert.Equal(t, 200, res.StatusCode)
			n, _ := layers.Load(c.LocalAddr().String())
			assert.Equal(t, 1, n, "one wire Conn follows the connection")
			assert.Zero(t, lim.Stats().InexactHTTP1Requests, "the head was measured by the Limiter's Wire")

			c = dial(t, s.Addr())
			c.Send(t, "GET /a HTTP/1.1\r\n")
			expectWireAnswer(t, c, lim, rs, ReasonRequestLineTooLong)

			c = dial(t, s.Addr())
			began := time.Now()
			c.Send(t, "GET / HTTP/1.1\r\nHo")
			res, _ = c.Response(t)
			assert.Equal(t, 408, res.StatusCode, "the other Wire's headers timer")
			assert.GreaterOrEqual(t, time.Since(began), headers-50*time.Millisecond, "not before the timer")
			assert.True(t, c.ClosedByPeer(t))
			_, ok := decided.Load(h1wire.ReasonRequestHeadersTimeout)
			assert.True(t, ok, "counted by the timers' Wire")
			assert.EqualValues(t, 1, lim.Stats().RejectedTotal(), "not by the Limiter")
		})
	}
}

// TestWireTLS: over TLS the wire Conn sits under crypto/tls and passes the
// records through: net/http sees its *tls.Conn (in ConnContext, the user's
// hook kept before Apply's), and the Handler measures the head after
// net/http's parse, still with the CRLF; such requests are not counted as
// plaintext ones measured inexactly.
func TestWireTLS(t *testing.T) {
	rs := new(refusalLog)
	lim := mustNew(t, Config{MaxRequestLineSize: 32, OnReject: rs.add})
	var sawTLS, sawUser sync.Map
	type userKey struct{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawUser.Store(r.RemoteAddr, r.Context().Value(userKey{}))
		_, _ = io.WriteString(w, "ok")
	})
	s := startServer(t, lim.Handler(h), h1tls, func(ts *httptest.Server) {
		ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			_, ok := c.(*tls.Conn)
			sawTLS.Store(c.RemoteAddr().String(), ok)
			return context.WithValue(ctx, userKey{}, "mine")
		}
		require.NoError(t, lim.Apply(ts.Config))
		ts.Listener = lim.Listener(ts.Listener)
	})
	// "GET /<path> HTTP/1.1\r\n" is 15 bytes and the path.
	c := tlsDial(t, s)
	br := bufio.NewReader(c)
	for _, tt := range []struct {
		path string
		code int
	}{{"/" + strings.Repeat("a", 16), 200}, {"/" + strings.Repeat("a", 17), 414}} {
		_, err := io.WriteString(c, "GET "+tt.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		assert.Equal(t, tt.code, res.StatusCode, "%d bytes", len(tt.path)+15)
	}
	ok, _ := sawTLS.Load(c.LocalAddr().String())
	assert.Equal(t, true, ok, "net/http sees a *tls.Conn")
	user, _ := sawUser.Load(c.LocalAddr().String())
	assert.Equal(t, "mine", user, "the user's ConnContext is kept")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonRequestLineTooLong])
	got := rs.all()
	require.Len(t, got, 1)
	assert.NotNil(t, got[0].r, "refused by the Handler, with the request")
	assert.Zero(t, lim.Stats().InexactHTTP1Requests)
}

// TestWireRouteLimiter: a route's Limiter with limits of its own, used as a
// handler behind the Listener's Limiter, still checks the head after
// net/http's parse (the wire measured it with the other Limiter's limits),
// and counts such requests as measured inexactly.
func TestWireRouteLimiter(t *testing.T) {
	global := mustNew(t, Config{})
	route := MaxRequestHeaders(3, 1000)
	mux := http.NewServeMux()
	mux.Handle("/", okHandler)
	mux.Handle("/strict", route.Handler(okHandler))
	s := serve(t, global, mux, h1)
	c := dial(t, s.Addr())
	c.Send(t, "GET /strict HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 200, res.StatusCode, "3 fields")
	c.Send(t, "GET /strict HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n")
	res, _ = c.Response(t)
	assert.Equal(t, 431, res.StatusCode, "4 fields over the route's 3")
	assert.EqualValues(t, 1, route.Stats().Rejected[ReasonTooManyHeaders])
	assert.EqualValues(t, 2, route.Stats().InexactHTTP1Requests)
	assert.Zero(t, global.Stats().InexactHTTP1Requests)
	assert.Zero(t, global.Stats().RejectedTotal())
}

// TestInexactWithoutListener: a server without the Listener keeps the
// Handler's checks after net/http's parse, counts its plaintext HTTP/1
// requests in InexactHTTP1Requests and logs the first once; HTTP/2 requests
// are exact and not counted.
func TestInexactWithoutListener(t *testing.T) {
	b := logs(t)
	lim := mustNew(t, Config{MaxRequestLineSize: 32})
	for _, p := range []proto{h1, h2c} {
		s := startServer(t, lim.Handler(okHandler), p, func(ts *httptest.Server) { require.NoError(t, lim.Apply(ts.Config)) })
		for range 3 {
			code, _ := s.Get(t, "/", nil)
			require.Equal(t, 200, code)
		}
		code, _ := s.Get(t, "/"+strings.Repeat("a", 20), nil)
		require.Equal(t, 414, code)
	}
	assert.EqualValues(t, 4, lim.Stats().InexactHTTP1Requests)
	assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonRequestLineTooLong])
	assert.Equal(t, 1, strings.Count(b.String(), "Stats.InexactHTTP1Requests"), b.String())

	// A Limiter without head limits measures nothing, and counts nothing.
	body := MaxRequestBodySize(10)
	s := startServer(t, body.Handler(okHandler), h1)
	code, _ := s.Get(t, "/", nil)
	require.Equal(t, 200, code)
	assert.Zero(t, body.Stats().InexactHTTP1Requests)
}

// TestWireAnsweredBeforeBodyRefused: a handler answers 405 without reading
// a body whose declared length is over the limit; the connection closes
// after the answer, and the refusal reported names the status the client
// got, 405, not the reason's 413.
func TestWireAnsweredBeforeBodyRefused(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		http.Error(w, "no POST here", http.StatusMethodNotAllowed)
	})
	s, lim, rs := wireServer(t, Config{MaxRequestBodySize: 20}, h)
	c := dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 21\r\n\r\n"+strings.Repeat("x", 21))
	res, _ := c.Response(t)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.True(t, res.Close, "Connection: close: the body is left unread")
	assert.True(t, c.ClosedByPeer(t))
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonBodyTooLarge])
	got := rs.all()
	require.Len(t, got, 1)
	assert.NotNil(t, got[0].r)
	assert.Equal(t, ReasonBodyTooLarge, got[0].err.Reason)
	_, _, status := got[0].err.Refused()
	assert.Equal(t, http.StatusMethodNotAllowed, status, "the status the client got")
}
