package limits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/testserver"
)

// echoLen reads the whole body and answers its length; a read error is
// returned as "error: ..." with status 400 unless asked to stay silent.
func echoLen(silentOnError bool, calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			if silentOnError {
				return
			}
			http.Error(w, "error: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	}
}

// unsized hides a reader's length so that clients send it without a
// Content-Length (chunked over HTTP/1, DATA frames alone over HTTP/2).
type unsized struct{ io.Reader }

// TestDeclaredBodyOverLimitRefusedAtFirstRead sends a declared length over
// the limit: the handler's first Read fails before a byte is read, and if
// the handler leaves the refusal to the Limiter, the client gets 413.
func TestDeclaredBodyOverLimitRefusedAtFirstRead(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			var calls atomic.Int32
			var readErr atomic.Value
			lim, err := New(Config{MaxRequestBodySize: 1000})
			require.NoError(t, err)
			s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				n, err := r.Body.Read(make([]byte, 10))
				if err != nil {
					readErr.Store(err)
					assert.Zero(t, n, "not a byte of a refused body is read")
					return
				}
				n2, _ := io.Copy(io.Discard, r.Body)
				fmt.Fprint(w, int64(n)+n2)
			}), p)

			req, _ := http.NewRequest("POST", s.URL, bytes.NewReader(make([]byte, 1000)))
			code, body := s.Do(t, req)
			assert.Equal(t, 200, code, "exactly the limit passes")
			assert.Equal(t, "1000", body)

			req, _ = http.NewRequest("POST", s.URL, bytes.NewReader(make([]byte, 1001)))
			code, body = s.Do(t, req)
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
			assert.Equal(t, "Request Entity Too Large\n", body)
			assert.EqualValues(t, 2, calls.Load())
			var mbe *http.MaxBytesError
			require.ErrorAs(t, readErr.Load().(error), &mbe)
			assert.EqualValues(t, 1000, mbe.Limit)
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonBodyTooLarge])
		})
	}
}

// TestDeclaredBodyOverLimitNeverRead: a handler that does not read a
// declared body over the limit keeps its own answer, or gets 413 if it wrote
// none; either way the refusal is counted and, over HTTP/1, the connection
// closes at once rather than net/http reading the body after the handler.
func TestDeclaredBodyOverLimitNeverRead(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{MaxRequestBodySize: 10})
			require.NoError(t, err)
			s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/answer" {
					fmt.Fprint(w, "mine")
				}
			}), p)
			for path, want := range map[string]int{"/answer": 200, "/silent": 413} {
				req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(make([]byte, 11)))
				code, _ := s.Do(t, req)
				assert.Equal(t, want, code, path)
			}
			assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonBodyTooLarge])
			if p != h1 {
				return
			}
			c := dial(t, s.Addr())
			c.Send(t, "POST /answer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
			res, body := c.Response(t)
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "mine", body)
			assert.True(t, c.ClosedByPeer(t), "the unread body is not read after the handler")
		})
	}
}

// TestUndeclaredBodyOverLimitFailsAsRead sends bodies without a length, the
// limit counting their data: over HTTP/1.1 on TLS (after net/http's parse)
// and HTTP/2. Through the Listener on plaintext HTTP/1.1 the chunk framing
// counts too, see TestWireBodyBoundary.
func TestUndeclaredBodyOverLimitFailsAsRead(t *testing.T) {
	for _, p := range []proto{h1tls, h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			var seen atomic.Value
			lim, err := New(Config{MaxRequestBodySize: 1000})
			require.NoError(t, err)
			s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					seen.Store(err)
					return // writes nothing: windhover answers 413
				}
				fmt.Fprint(w, "ok")
			}), p)

			req, _ := http.NewRequest("POST", s.URL, unsized{bytes.NewReader(make([]byte, 1000))})
			code, _ := s.Do(t, req)
			assert.Equal(t, 200, code, "exactly the limit passes")

			req, _ = http.NewRequest("POST", s.URL, unsized{bytes.NewReader(make([]byte, 1001))})
			code, body := s.Do(t, req)
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
			assert.Equal(t, "Request Entity Too Large\n", body)
			var mbe *http.MaxBytesError
			require.ErrorAs(t, seen.Load().(error), &mbe, "handlers see net/http's own error")
			assert.EqualValues(t, 1000, mbe.Limit)
		})
	}
}

func TestHandlerKeepsItsOwnStatusAfterOverflow(t *testing.T) {
	lim, err := New(Config{MaxRequestBodySize: 10})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(false, nil), h1)
	c := dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 400, res.StatusCode, "the handler answered, its answer stands")
	assert.Contains(t, body, "http: request body too large")
	assert.True(t, c.ClosedByPeer(t), "the connection is not reused")
}

func TestChunkedOverflowClosesConnection(t *testing.T) {
	lim, err := New(Config{MaxRequestBodySize: 10})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(true, nil), h1)
	c := dial(t, s.Addr())
	// A small overflow that net/http would otherwise discard and reuse the
	// connection after.
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n")
	res, _ := c.Response(t)
	assert.Equal(t, 413, res.StatusCode)
	assert.True(t, res.Close)
	assert.True(t, c.ClosedByPeer(t))
}

func TestOverflowAfterResponseStartedClosesConnection(t *testing.T) {
	// The handler streams its answer before reading: no 413 is possible, but
	// the connection must still not be reused.
	var readErr atomic.Value
	lim, err := New(Config{MaxRequestBodySize: 10})
	require.NoError(t, err)
	s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Without full duplex net/http closes the body at the first write.
		_ = rc.EnableFullDuplex()
		w.WriteHeader(200)
		_ = rc.Flush()
		_, err := io.Copy(io.Discard, r.Body)
		readErr.Store(err)
		fmt.Fprint(w, "done")
	}), h1)
	c := dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "done", body)
	assert.True(t, c.ClosedByPeer(t), "the connection is closed after the response")
	var mbe *http.MaxBytesError
	assert.ErrorAs(t, readErr.Load().(error), &mbe)
}

func TestHTTP2OverflowKeepsConnection(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{MaxRequestBodySize: 100})
			require.NoError(t, err)
			s := serve(t, lim, echoLen(true, nil), p)
			var reused []bool
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
			for i, size := range []int{101, 50, 101, 50} {
				req, _ := http.NewRequest("POST", s.URL, unsized{bytes.NewReader(make([]byte, size))})
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
				code, _ := s.Do(t, req)
				want := 200
				if size > 100 {
					want = 413
				}
				assert.Equal(t, want, code, "request %d", i)
			}
			assert.Equal(t, []bool{false, true, true, true}, reused, "one connection carries every stream")
		})
	}
}

func TestExpectContinueGetsNo100(t *testing.T) {
	for _, silent := range []bool{true, false} {
		var calls atomic.Int32
		lim, err := New(Config{MaxRequestBodySize: 10})
		require.NoError(t, err)
		s := serve(t, lim, echoLen(silent, &calls), h1)
		c := dial(t, s.Addr())
		c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
		res, _ := c.Response(t)
		want := 413
		if !silent {
			want = 400 // the handler answered its failed Read itself
		}
		assert.Equal(t, want, res.StatusCode, "the first response is the refusal, not 100 Continue")
		assert.True(t, c.ClosedByPeer(t))
		assert.EqualValues(t, 1, calls.Load())
	}
}

func TestSetMaxRequestBodySize(t *testing.T) {
	type result struct {
		setErr error
		n      int64
		err    error
	}
	results := make(chan result, 1)
	newLimit := int64(0)
	setAfterRead := false
	lim, err := New(Config{MaxRequestBodySize: 100})
	require.NoError(t, err)
	s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res result
		if setAfterRead {
			_, _ = r.Body.Read(make([]byte, 1))
		}
		res.setErr = SetMaxRequestBodySize(r, newLimit)
		res.n, res.err = io.Copy(io.Discard, r.Body)
		results <- res
	}), h1)

	send := func(body io.Reader) result {
		req, _ := http.NewRequest("POST", s.URL, body)
		res, err := s.Client.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return <-results
	}

	newLimit = 1000
	r := send(unsized{strings.NewReader(strings.Repeat("x", 500))})
	assert.NoError(t, r.setErr)
	assert.NoError(t, r.err, "raised for a body of unknown length")
	assert.EqualValues(t, 500, r.n)

	newLimit = 10
	r = send(strings.NewReader(strings.Repeat("x", 50)))
	assert.NoError(t, r.setErr)
	var mbe *http.MaxBytesError
	assert.ErrorAs(t, r.err, &mbe, "lowered: the declared length fails at the first read")
	assert.Zero(t, r.n)

	newLimit = -1
	r = send(unsized{strings.NewReader(strings.Repeat("x", 5000))})
	assert.NoError(t, r.err, "removed")
	assert.EqualValues(t, 5000, r.n)

	newLimit, setAfterRead = 1000, true
	r = send(unsized{strings.NewReader(strings.Repeat("x", 50))})
	assert.ErrorIs(t, r.setErr, ErrBodyReadStarted)
}

func TestSetMaxRequestBodySizeOutsideLimiter(t *testing.T) {
	r, _ := http.NewRequest("POST", "/", strings.NewReader("x"))
	assert.ErrorIs(t, SetMaxRequestBodySize(r, 10), ErrNoBodyLimit)
	r, _ = http.NewRequest("GET", "/", nil)
	assert.NoError(t, SetMaxRequestBodySize(r, 10), "no body, nothing to limit")
	r.Body = http.NoBody
	assert.NoError(t, SetMaxRequestBodySize(r, 10))
}

func TestMaxRequestBodySizeFunc(t *testing.T) {
	var calls atomic.Int32
	lim, err := New(Config{
		MaxRequestBodySize: 10,
		MaxRequestBodySizeFunc: func(r *http.Request) int64 {
			switch r.URL.Path {
			case "/upload":
				return 1000
			case "/any":
				return -1
			}
			return 0
		},
	})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(true, &calls), h1)
	for _, tt := range []struct {
		path string
		size int
		code int
	}{
		{"/upload", 1000, 200},
		{"/upload", 1001, 413},
		{"/any", 100000, 200},
		{"/", 10, 200},
		{"/", 11, 413},
	} {
		req, _ := http.NewRequest("POST", s.URL+tt.path, bytes.NewReader(make([]byte, tt.size)))
		code, body := s.Do(t, req)
		assert.Equal(t, tt.code, code, "%s with %d bytes", tt.path, tt.size)
		if code == 200 {
			assert.Equal(t, strconv.Itoa(tt.size), body)
		}
	}
	assert.EqualValues(t, 5, calls.Load())
	assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonBodyTooLarge])
}

func TestMaxRequestBodySizeAlone(t *testing.T) {
	for _, tt := range []struct {
		limit int64
		size  int
		code  int
	}{
		{0, 0, 200},
		{0, 1, 413},
		{5, 5, 200},
		{5, 6, 413},
		{-1, 100000, 200},
	} {
		h := MaxRequestBodySize(tt.limit).Handler(echoLen(true, nil))
		s := serve(t, nil, h, h1)
		req, _ := http.NewRequest("POST", s.URL, unsized{bytes.NewReader(make([]byte, tt.size))})
		code, _ := s.Do(t, req)
		assert.Equal(t, tt.code, code, "limit %d, %d bytes", tt.limit, tt.size)
	}
}

func TestBodyRejectionReported(t *testing.T) {
	var got []error
	var reqs []*http.Request
	lim, err := New(Config{MaxRequestBodySize: 4, OnReject: func(r *http.Request, err error) {
		got = append(got, err)
		reqs = append(reqs, r)
	}})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(true, nil), h1)
	req, _ := http.NewRequest("POST", s.URL+"/declared", strings.NewReader("12345"))
	s.Do(t, req)
	req, _ = http.NewRequest("POST", s.URL+"/read", unsized{strings.NewReader("12345")})
	s.Do(t, req)

	require.Len(t, got, 2)
	for i, err := range got {
		assert.ErrorIs(t, err, ErrBodyTooLarge)
		var le *Error
		require.ErrorAs(t, err, &le)
		assert.Equal(t, ReasonBodyTooLarge, le.Reason)
		assert.EqualValues(t, 4, le.Limit)
		assert.NotNil(t, reqs[i])
	}
	assert.Equal(t, "/declared", reqs[0].URL.Path)
	assert.EqualValues(t, 5, got[0].(*Error).Size)
	var mbe *http.MaxBytesError
	assert.ErrorAs(t, got[0], &mbe, "a declared length fails the first Read: the error wraps what the handler saw")
	assert.ErrorAs(t, got[1], &mbe, "a read overflow wraps the error the handler saw")
	assert.Equal(t, "windhover/limits: request body too large (limit 4, got 5)", got[0].Error())
	// The Listener's wire counts the chunked body as Kestrel does, its
	// framing included: the size is what the wire had read when the
	// handler's Read overflowed, the first chunk "5\r\n12345\r\n" (10)
	// or, when the client's writes arrived together, the whole body with
	// its last chunk "0\r\n\r\n" (15). Without the framing it would be 5.
	assert.Contains(t, []string{
		"windhover/limits: request body too large (limit 4, got 10)",
		"windhover/limits: request body too large (limit 4, got 15)",
	}, got[1].Error())

	// A declared length nobody read is refused all the same, with no Read
	// error to wrap.
	got = nil
	s = serve(t, lim, hello, h1)
	req, _ = http.NewRequest("POST", s.URL+"/unread", strings.NewReader("12345"))
	s.Do(t, req)
	require.Len(t, got, 1)
	assert.False(t, errors.As(got[0], &mbe), "the handler never read")
	assert.EqualValues(t, 5, got[0].(*Error).Size)
}

// TestUpgradeFieldDoesNotLiftBodyLimit sends bodies over the limit with an
// Upgrade field, declared and chunked, with and without an upgrade limit:
// the body limit holds, as for any request. An Upgrade field is the client's
// to send; the switch would come after the body.
func TestUpgradeFieldDoesNotLiftBodyLimit(t *testing.T) {
	for _, cfg := range []Config{{MaxRequestBodySize: 4}, {MaxRequestBodySize: 4, MaxConcurrentUpgradedConnections: 10}} {
		var calls atomic.Int32
		lim, err := New(cfg)
		require.NoError(t, err)
		s := serve(t, lim, echoLen(true, &calls), h1)
		for _, req := range []string{
			"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\nContent-Length: 5\r\n\r\n12345",
			"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n0\r\n\r\n",
		} {
			c := dial(t, s.Addr())
			c.Send(t, req)
			res, _ := c.Response(t)
			assert.Equal(t, 413, res.StatusCode, "%+v: %q", cfg, req)
		}
		assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonBodyTooLarge])
		assert.Zero(t, lim.Stats().UpgradedConnections)
	}
}

// TestH2CUpgradeIsNoUpgrade sends what curl --http2 sends to an http://
// URL: net/http serves it as HTTP/1.1, so even with upgrades switched off
// it is served, and its body is limited.
func TestH2CUpgradeIsNoUpgrade(t *testing.T) {
	lim, err := New(Config{MaxRequestBodySize: 4, MaxConcurrentUpgradedConnections: NoUpgrades})
	require.NoError(t, err)
	s := serve(t, lim, echoLen(true, nil), h1)
	const head = "POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
	c := dial(t, s.Addr())
	c.Send(t, head+"Content-Length: 3\r\n\r\nabc")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "3", body)
	c = dial(t, s.Addr())
	c.Send(t, head+"Content-Length: 5\r\n\r\n12345")
	res, _ = c.Response(t)
	assert.Equal(t, 413, res.StatusCode)
	assert.Zero(t, lim.Stats().Rejected[ReasonUpgradesDisabled])
}

// TestRefusedBodyNeverSent declares a body over the limit, or overflows a
// chunked one, and then sends nothing more: the answer (413, or the
// handler's own once its first Read failed) arrives and the server lets go of the
// connection at once, rather than wait for the rest of the body (net/http
// reads up to 256 KB of an unread body after the handler).
func TestRefusedBodyNeverSent(t *testing.T) {
	lim, err := New(Config{MaxRequestBodySize: 10})
	require.NoError(t, err)
	for _, tt := range []struct {
		silent    bool // the handler answers nothing when its Read fails
		overflown int  // the status once the handler's Read fails
	}{{true, 413}, {false, 400}} {
		s := serve(t, lim, echoLen(tt.silent, nil), h1)
		for req, want := range map[string]int{
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc":                                tt.overflown,
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n100\r\nabc": tt.overflown,
		} {
			c := dial(t, s.Addr())
			c.Send(t, req)
			start := time.Now()
			res, _ := c.Response(t)
			assert.Equal(t, want, res.StatusCode, "%q", req)
			assert.True(t, c.ClosedByPeer(t))
			assert.Less(t, time.Since(start), 3*time.Second, "closed at once, not by the test's 5 s read deadline")
		}
	}
}

// TestNoBody sends, over raw HTTP/1.1 and over h2c, requests without a body
// and requests with a one-byte body, under each way of allowing no body
// (Kestrel's MaxRequestBodySize = 0): the first are served, the second get
// 413 and their handler's Read fails with *http.MaxBytesError.
func TestNoBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		lim  func(t *testing.T) *Limiter
		set  *int64 // a SetMaxRequestBodySize call in the handler
	}{
		{"Config", func(t *testing.T) *Limiter { return mustNew(t, Config{MaxRequestBodySize: NoBody}) }, nil},
		{"Func", func(t *testing.T) *Limiter {
			return mustNew(t, Config{MaxRequestBodySizeFunc: func(*http.Request) int64 { return NoBody }})
		}, nil},
		{"SetNoBody", func(t *testing.T) *Limiter { return mustNew(t, Config{}) }, ptr(NoBody)},
		{"SetZero", func(t *testing.T) *Limiter { return mustNew(t, Config{}) }, ptr(int64(0))},
		{"MaxRequestBodySize(0)", func(*testing.T) *Limiter { return MaxRequestBodySize(0) }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var readErrs atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.set != nil {
					require.NoError(t, SetMaxRequestBodySize(r, *tt.set))
				}
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					var mbe *http.MaxBytesError
					if assert.ErrorAs(t, err, &mbe) {
						assert.Zero(t, mbe.Limit)
					}
					readErrs.Add(1)
					return // the Limiter answers 413
				}
				fmt.Fprint(w, n)
			})
			lim := tt.lim(t)

			t.Run("h1", func(t *testing.T) {
				s := serve(t, lim, h, h1)
				c := dial(t, s.Addr())
				for _, req := range []string{
					"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
					"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
					"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
				} {
					c.Send(t, req)
					res, body := c.Response(t)
					assert.Equal(t, 200, res.StatusCode, "%q", req)
					assert.Equal(t, "0", body, "%q", req)
				}
				for _, req := range []string{
					"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
					"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
				} {
					c := dial(t, s.Addr())
					c.Send(t, req)
					res, _ := c.Response(t)
					assert.Equal(t, 413, res.StatusCode, "%q", req)
					assert.True(t, c.ClosedByPeer(t), "%q: the connection is closed after the 413", req)
				}
				assert.EqualValues(t, 2, readErrs.Swap(0))
			})

			t.Run("h2c", func(t *testing.T) {
				s := serve(t, lim, h, h2c)
				for _, tc := range []struct {
					method string
					body   io.Reader
					code   int
				}{
					{"GET", nil, 200},
					{"POST", http.NoBody, 200},
					{"POST", unsized{strings.NewReader("")}, 200},
					{"POST", strings.NewReader("x"), 413},
					{"POST", unsized{strings.NewReader("x")}, 413},
				} {
					req, _ := http.NewRequest(tc.method, s.URL, tc.body)
					code, _ := s.Do(t, req)
					assert.Equal(t, tc.code, code, "%s %T", tc.method, tc.body)
				}
				assert.EqualValues(t, 2, readErrs.Swap(0))
			})
		})
	}
}

// TestBodyLimitSentinels checks how Config's body limit reads: zero is
// Kestrel's default, NoBody none at all, Unlimited and every other negative
// value no limit; and Check refuses a declared byte under NoBody.
func TestBodyLimitSentinels(t *testing.T) {
	for in, want := range map[int64]int64{
		0:             DefaultMaxRequestBodySize,
		NoBody:        0,
		Unlimited:     -1,
		-5:            -5,
		NoBody + 1:    NoBody + 1,
		1:             1,
		math.MaxInt64: math.MaxInt64,
	} {
		s, err := (&Config{MaxRequestBodySize: in}).settings()
		require.NoError(t, err)
		assert.Equal(t, want, s.bodySize, "MaxRequestBodySize %d", in)
	}

	for name, lim := range map[string]*Limiter{
		"Config":                     mustNew(t, Config{MaxRequestBodySize: NoBody}),
		"Func":                       mustNew(t, Config{MaxRequestBodySizeFunc: func(*http.Request) int64 { return NoBody }}),
		"MaxRequestBodySize(NoBody)": MaxRequestBodySize(NoBody),
		"MaxRequestBodySize(0)":      MaxRequestBodySize(0),
	} {
		r, _ := http.NewRequest("POST", "/", strings.NewReader("x"))
		var e *Error
		if assert.ErrorAs(t, lim.Check(r), &e, name) {
			assert.Equal(t, ReasonBodyTooLarge, e.Reason, name)
			assert.Zero(t, e.Limit, name)
		}
		r, _ = http.NewRequest("POST", "/", http.NoBody)
		assert.NoError(t, lim.Check(r), name)
	}
}

func mustNew(t *testing.T, c Config) *Limiter {
	t.Helper()
	lim, err := New(c)
	require.NoError(t, err)
	return lim
}

func ptr[T any](v T) *T { return &v }

// TestBodyRequestSize keeps the state of a request with a body within its
// size class: at 512 bytes it takes one 512-byte allocation, and a field more
// would make it a 576-byte one (BenchmarkBodyLimit's B/op).
func TestBodyRequestSize(t *testing.T) {
	testserver.SizeAtMost(t, "a request with a body's state", unsafe.Sizeof(bodyRequest{}), 512)
}
