package timeouts

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// answerWithin bounds the wait for an answer that must come at once, not at
// the client's pace.
const answerWithin = time.Second

// ignoring are handlers that leave the request body unread, each reaching
// the point where net/http would read it in a different way.
var ignoring = []struct {
	name string
	h    http.HandlerFunc
	body string
}{
	{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, ""},
	{"small write", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}, "hello"},
	{"large write", func(w http.ResponseWriter, r *http.Request) {
		// Past net/http's 2 KiB buffer: the header goes out while the
		// handler runs.
		_, _ = w.Write(bytes.Repeat([]byte("a"), 10<<10))
	}, strings.Repeat("a", 10<<10)},
	{"flush", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
	}, "hello"},
	{"status only", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}, ""},
	{"body closed", func(w http.ResponseWriter, r *http.Request) {
		defer r.Body.Close()
		_, _ = io.WriteString(w, "hello")
	}, "hello"},
	{"body closed first", func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		_, _ = io.WriteString(w, "hello")
	}, "hello"},
}

// TestAnnouncedBodyNeverSent is issue 11's first hole: a client announces a
// body and sends nothing, or part of it, and the handler does not read it.
// net/http would read it before or after the response, at the client's pace:
// no answer, or no end to the connection. The answer must come at once and
// the connection close.
func TestAnnouncedBodyNeverSent(t *testing.T) {
	attacks := []struct{ name, req string }{
		{"length", "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n"},
		{"partial", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("a", 1000)},
		{"chunked", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"chunked part", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"expect", "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"},
		{"client closes", "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"},
	}
	for _, a := range attacks {
		for _, h := range ignoring {
			t.Run(a.name+"/"+h.name, func(t *testing.T) {
				pol, err := New(Config{})
				require.NoError(t, err)
				s := serve(t, pol, h.h, h1)
				c := testserver.Dial(t, s.Addr())
				c.Send(t, a.req)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(answerWithin)))
				res, body := c.Response(t)
				assert.Less(t, res.StatusCode, 300, "a final status, at once")
				assert.Equal(t, h.body, body)
				assert.True(t, res.Close, "Connection: close")
				assert.True(t, c.ClosedByPeer(t), "the connection closed")
				assert.EqualValues(t, 1, pol.Stats().UnreadBodies)
			})
		}
	}
}

// TestIgnoredBodyDrainBoundary: an unread rest of 4,095 bytes is drained
// and the connection kept; one of 4,096 (net/http's read buffer, the stash)
// gets "Connection: close", with the same answer.
func TestIgnoredBodyDrainBoundary(t *testing.T) {
	for _, tt := range []struct {
		size  int
		close bool
	}{{stashSize - 1, false}, {stashSize, true}} {
		t.Run(strconv.Itoa(tt.size), func(t *testing.T) {
			pol, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "ignored")
			}), h1)
			c := testserver.Dial(t, s.Addr())
			c.Send(t, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: "+strconv.Itoa(tt.size)+"\r\n\r\n"+strings.Repeat("a", tt.size))
			res, body := c.Response(t)
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "ignored", body)
			assert.Equal(t, tt.close, res.Close, "Connection: close")
			if !tt.close {
				c.Send(t, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
				res, body = c.Response(t)
				assert.Equal(t, 200, res.StatusCode, "the next request on the kept connection")
				assert.Equal(t, "ignored", body)
			}
		})
	}
}

// TestSmallIgnoredBodyKeepsConnection: an honest client whose small body
// came with its request keeps its connection, whatever the handler did with
// the body, and the next request on it has a live context.
func TestSmallIgnoredBodyKeepsConnection(t *testing.T) {
	handlers := append(ignoring[:len(ignoring):len(ignoring)], struct {
		name string
		h    http.HandlerFunc
		body string
	}{"read after write", func(w http.ResponseWriter, r *http.Request) {
		// Allowed by net/http while the response stays in its buffer:
		// the body a drain set aside is read back.
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, r.Body)
	}, "0123456789"})
	for _, h := range handlers {
		t.Run(h.name, func(t *testing.T) {
			pol, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/second" {
					if err := r.Context().Err(); err != nil {
						_, _ = io.WriteString(w, err.Error())
						return
					}
					_, _ = io.WriteString(w, "live")
					return
				}
				h.h(w, r)
			}), h1)
			c := testserver.Dial(t, s.Addr())
			c.Send(t, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789")
			res, body := c.Response(t)
			assert.Less(t, res.StatusCode, 300)
			assert.Equal(t, h.body, body)
			assert.False(t, res.Close, "kept alive")
			// Longer than any deadline a drain might have left behind.
			time.Sleep(4 * drainWait)
			c.Send(t, "GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n")
			res, body = c.Response(t)
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "live", body, "the next request's context is live")
			assert.Zero(t, pol.Stats().UnreadBodies)
		})
	}
}

// TestUnreadBodyHTTP2 shows that HTTP/2 never had the hole: the stream ends
// with the handler, whatever its body announced.
func TestUnreadBodyHTTP2(t *testing.T) {
	for _, p := range []testserver.Proto{h2, h2c} {
		t.Run(string(p), func(t *testing.T) {
			pol, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
			}), p)
			var c net.Conn
			if p.IsTLS() {
				c, err = tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: testserver.RootCAs(s.Server), NextProtos: []string{"h2"}})
			} else {
				c, err = net.Dial("tcp", s.Addr())
			}
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(answerWithin)))
			_, err = io.WriteString(c, http2.ClientPreface)
			require.NoError(t, err)
			fr := http2.NewFramer(c, c)
			require.NoError(t, fr.WriteSettings())
			var block bytes.Buffer
			enc := hpack.NewEncoder(&block)
			for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}, {"content-length", "10"}} {
				require.NoError(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}))
			}
			// The body is announced, and never sent.
			require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}))
			var status, body string
			dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
				if f.Name == ":status" {
					status = f.Value
				}
			})
			for {
				f, err := fr.ReadFrame()
				require.NoError(t, err, "the stream must end at once")
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() {
						require.NoError(t, fr.WriteSettingsAck())
					}
				case *http2.HeadersFrame:
					_, err := dec.Write(f.HeaderBlockFragment())
					require.NoError(t, err)
				case *http2.DataFrame:
					body += string(f.Data())
					if f.StreamEnded() {
						assert.Equal(t, "200", status)
						assert.Equal(t, "hello", body)
						return
					}
				case *http2.RSTStreamFrame:
					t.Fatalf("stream reset (%v) before the response ended", f.ErrCode)
				}
			}
		})
	}
}

// TestRefusalInsideReadsNothing: a windhover policy inside the handler that
// refuses the request (refuse.SkipBody) has already made net/http give up the
// body; the handler reads none of it.
func TestRefusalInsideReadsNothing(t *testing.T) {
	pol, err := New(Config{})
	require.NoError(t, err)
	h := pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse.SkipBody(w, r)
		http.Error(w, "no", http.StatusForbidden)
	}))
	body := &countingBody{RewindBody: testserver.NewRewindBody([]byte("0123456789"))}
	r, err := http.NewRequest("POST", "/", body)
	require.NoError(t, err)
	r.ContentLength = 10
	w := testserver.NewNopWriter()
	h.ServeHTTP(w, r)
	assert.Zero(t, body.reads, "nothing read")
	assert.Equal(t, "close", w.Header().Get("Connection"))
	assert.EqualValues(t, 1, pol.Stats().UnreadBodies)

	// Over the sockets: answered at once, closed.
	s := testserver.Start(t, h, h1, func(ts *httptest.Server) { require.NoError(t, pol.Apply(ts.Config)) })
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(answerWithin)))
	res, _ := c.Response(t)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.True(t, c.ClosedByPeer(t))
}

type countingBody struct {
	*testserver.RewindBody
	reads int
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.reads++
	return b.RewindBody.Read(p)
}
