package hostfilter

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Result is how the server answered one raw HTTP/2 request.
type h2Result struct {
	status int    // 0 if the stream was reset
	body   string // the DATA frames
	reset  http2.ErrCode
}

// h2Conn is a raw HTTP/2 client connection, TLS or h2c, for sending pseudo
// header fields net/http's client would refuse to send.
type h2Conn struct {
	c      net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	dec    *hpack.Decoder
	stream uint32
}

func dialH2(t *testing.T, s *testserver.Server) *h2Conn {
	t.Helper()
	var c net.Conn
	var err error
	if s.Proto == testserver.H2 {
		c, err = tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: testserver.RootCAs(s.Server), NextProtos: []string{"h2"}})
		if err == nil && c.(*tls.Conn).ConnectionState().NegotiatedProtocol != "h2" {
			err = io.ErrUnexpectedEOF
		}
	} else {
		c, err = net.Dial("tcp", s.Addr())
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	h := &h2Conn{c: c, fr: http2.NewFramer(c, c), stream: 1}
	h.enc = hpack.NewEncoder(&h.encBuf)
	h.dec = hpack.NewDecoder(4096, nil)
	require.NoError(t, h.fr.WriteSettings())
	return h
}

// do sends one GET for "/" with the given :authority (omitted if nil) and
// regular fields (name, value pairs), and reads the answer on its stream.
func (h *h2Conn) do(t *testing.T, authority *string, fields ...string) h2Result {
	t.Helper()
	return h.send(t, "GET", authority, "/", fields...)
}

// send sends one request without a body, with the given :method, :authority
// (omitted if nil), :path and regular fields, and reads the answer on its
// stream.
func (h *h2Conn) send(t *testing.T, method string, authority *string, path string, fields ...string) h2Result {
	t.Helper()
	scheme := "http"
	if _, ok := h.c.(*tls.Conn); ok {
		scheme = "https"
	}
	h.encBuf.Reset()
	hf := []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: scheme}}
	if authority != nil {
		hf = append(hf, hpack.HeaderField{Name: ":authority", Value: *authority})
	}
	hf = append(hf, hpack.HeaderField{Name: ":path", Value: path})
	for i := 0; i+1 < len(fields); i += 2 {
		hf = append(hf, hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	for _, f := range hf {
		require.NoError(t, h.enc.WriteField(f))
	}
	id := h.stream
	h.stream += 2
	require.NoError(t, h.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: h.encBuf.Bytes(), EndStream: true, EndHeaders: true,
	}))
	var res h2Result
	for {
		f, err := h.fr.ReadFrame()
		require.NoError(t, err)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, h.fr.WriteSettingsAck())
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				res.reset = f.ErrCode
				return res
			}
		case *http2.HeadersFrame:
			if f.StreamID != id {
				continue
			}
			fields, err := h.dec.DecodeFull(f.HeaderBlockFragment())
			require.NoError(t, err)
			for _, hf := range fields {
				if hf.Name == ":status" {
					res.status, _ = strconv.Atoi(hf.Value)
				}
			}
			if f.StreamEnded() {
				return res
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			res.body += string(f.Data())
			if f.StreamEnded() {
				return res
			}
		}
	}
}

func ptr(s string) *string { return &s }

// TestRawHTTP2 forges :authority and Host over HTTP/2 with TLS and h2c: what
// net/http's HTTP/1 server refuses before the handler reaches the filter here.
func TestRawHTTP2(t *testing.T) {
	testserver.CheckNoLeaks(t)
	for _, p := range []testserver.Proto{testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			var rec recorder
			f, err := New(Config{AllowedHosts: serverPatterns, OnReject: rec.onReject})
			require.NoError(t, err)
			s := testserver.Start(t, f.Handler(hello), p)
			c := dialH2(t, s)
			ok := h2Result{status: 200, body: "hello\n"}
			refused := h2Result{status: 400, body: "invalid hostname\n"}
			for _, tt := range []struct {
				name      string
				authority *string
				fields    []string
				want      h2Result
				reason    Reason
			}{
				{"allowed", ptr("example.com"), nil, ok, 0},
				{"uppercase, port, trailing dot", ptr("WWW.EXAMPLE.COM.:8443"), nil, ok, 0},
				{"IPv6 as an address", ptr("[0::1]"), nil, ok, 0},
				{"CIDR", ptr("10.9.8.7:80"), nil, ok, 0},
				{"no :authority, Host field", nil, []string{"host", "a.example.com"}, ok, 0},
				{"no :authority, no Host", nil, nil, ok, 0},
				{"empty :authority", ptr(""), nil, ok, 0},
				{"same Host field", ptr("example.com"), []string{"host", "example.com"}, ok, 0},
				{"other host", ptr("evil.example"), nil, refused, ReasonHostNotAllowed},
				{"no :authority, other Host", nil, []string{"host", "evil.example"}, refused, ReasonHostNotAllowed},
				{"Host field differs from :authority", ptr("example.com"), []string{"host", "evil.example"}, refused, ReasonHostNotAllowed},
				{"empty label", ptr("x..example.com"), nil, refused, ReasonMalformedHost},
				{"bad port", ptr("example.com:http"), nil, refused, ReasonMalformedHost},
				// Over HTTP/1 net/http answers these itself; over HTTP/2
				// they reach the handler.
				{"space", ptr("exa mple.com"), nil, refused, ReasonMalformedHost},
				{"path", ptr("example.com/x"), nil, refused, ReasonMalformedHost},
				{"UTF-8", ptr("bücher.example"), nil, refused, ReasonMalformedHost},
				{"unbracketed IPv6", ptr("::1"), nil, refused, ReasonMalformedHost},
				// What net/http's HTTP/2 server does refuse: userinfo, and
				// control characters, with a stream reset.
				{"userinfo", ptr("evil@example.com"), nil, h2Result{reset: http2.ErrCodeProtocol}, 0},
				{"control character", ptr("example.com\x01"), nil, h2Result{reset: http2.ErrCodeProtocol}, 0},
			} {
				got := c.do(t, tt.authority, tt.fields...)
				assert.Equal(t, tt.want, got, tt.name)
				errs := rec.taken()
				if tt.want.status == 400 && assert.Len(t, errs, 1, tt.name) {
					assert.Equal(t, tt.reason, errs[0].Reason, tt.name)
				} else if tt.want.status != 400 {
					assert.Empty(t, errs, tt.name)
				}
			}
			assert.Equal(t, Stats{Allowed: 8, Rejected: [NumReasons]uint64{ReasonMalformedHost: 6, ReasonHostNotAllowed: 3}}, f.Stats())
		})
	}
}

func TestRawHTTP2Options(t *testing.T) {
	testserver.CheckNoLeaks(t)
	for _, p := range []testserver.Proto{testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			f, err := New(Config{AllowedHosts: []string{"*"}, RejectEmptyHost: true, OmitFailureMessage: true})
			require.NoError(t, err)
			s := testserver.Start(t, f.Handler(hello), p)
			c := dialH2(t, s)
			assert.Equal(t, h2Result{status: 400}, c.do(t, nil))
			assert.Equal(t, h2Result{status: 400}, c.do(t, ptr("")))
			assert.Equal(t, h2Result{status: 400}, c.do(t, ptr("x..y")))
			assert.Equal(t, h2Result{status: 200, body: "hello\n"}, c.do(t, ptr("anything.example")))
			assert.Equal(t, Stats{Allowed: 1, Rejected: [NumReasons]uint64{ReasonEmptyHost: 2, ReasonMalformedHost: 1}}, f.Stats())
		})
	}
}

// TestAbsolutePathHTTP2 sends an absolute :path, which net/http parses into
// r.URL, host included, while r.Host is :authority: the handler behind the
// filter met a host nobody judged (issue 11, hole 6). Every host a request
// names must be allowed, and all must be the same host.
func TestAbsolutePathHTTP2(t *testing.T) {
	testserver.CheckNoLeaks(t)
	for _, p := range []testserver.Proto{testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			var rec recorder
			var mu sync.Mutex
			var seen []string
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Host+" "+r.URL.Host)
				mu.Unlock()
				_, _ = io.WriteString(w, "hello\n")
			})
			f, err := New(Config{AllowedHosts: []string{"localhost", "*.example.com"}, OnReject: rec.onReject})
			require.NoError(t, err)
			s := testserver.Start(t, f.Handler(app), p)
			c := dialH2(t, s)
			ok := h2Result{status: 200, body: "hello\n"}
			refused := h2Result{status: 400, body: "invalid hostname\n"}
			for _, tt := range []struct {
				name      string
				authority *string
				path      string
				fields    []string
				want      h2Result
				reason    Reason
				host      string // the refused host
			}{
				{"the issue's case", ptr("localhost"), "http://evil.example/admin", nil, refused, ReasonHostNotAllowed, "evil.example"},
				{"https, port", ptr("localhost"), "https://evil.example:443/admin", nil, refused, ReasonHostNotAllowed, "evil.example:443"},
				{"userinfo", ptr("localhost"), "http://localhost@evil.example/admin", nil, refused, ReasonHostNotAllowed, "evil.example"},
				{"other scheme", ptr("localhost"), "ftp://evil.example/admin", nil, refused, ReasonHostNotAllowed, "evil.example"},
				{"malformed", ptr("localhost"), "http://x..example.com/", nil, refused, ReasonMalformedHost, "x..example.com"},
				{"no :authority", nil, "http://evil.example/", nil, refused, ReasonHostNotAllowed, "evil.example"},
				{"no :authority, Host field", nil, "http://evil.example/", []string{"host", "localhost"}, refused, ReasonHostNotAllowed, "evil.example"},
				{"another allowed host", ptr("localhost"), "http://a.example.com/admin", nil, refused, ReasonHostMismatch, "a.example.com"},
				{"two allowed hosts, no :authority", nil, "http://a.example.com/", []string{"host", "b.example.com"}, refused, ReasonHostMismatch, "a.example.com"},
				{"Host field beside :authority, both allowed", ptr("a.example.com"), "/", []string{"host", "b.example.com"}, refused, ReasonHostMismatch, "b.example.com"},
				{"the same host", ptr("localhost"), "http://LOCALHOST.:8080/admin", nil, ok, 0, ""},
				{"the only host", nil, "http://a.example.com/x", nil, ok, 0, ""},
				{"scheme-relative: a path, no host", ptr("localhost"), "//evil.example/admin", nil, ok, 0, ""},
			} {
				if serverRefusesAbsolutePath && strings.Contains(tt.path, "://") {
					// Go 1.27 resets the stream before any handler: the
					// filter has nothing left to judge.
					tt.want = h2Result{reset: http2.ErrCodeProtocol}
				}
				got := c.send(t, "GET", tt.authority, tt.path, tt.fields...)
				assert.Equal(t, tt.want, got, tt.name)
				errs := rec.taken()
				if tt.want.status != 400 {
					assert.Empty(t, errs, tt.name)
				} else if assert.Len(t, errs, 1, tt.name) {
					assert.Equal(t, tt.reason, errs[0].Reason, tt.name)
					assert.Equal(t, tt.host, errs[0].Host, tt.name)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if serverRefusesAbsolutePath {
				assert.Equal(t, []string{"localhost "}, seen, "what the application met")
				assert.Equal(t, Stats{Allowed: 1, Rejected: [NumReasons]uint64{ReasonHostMismatch: 1}}, f.Stats())
				return
			}
			assert.Equal(t, []string{"localhost LOCALHOST.:8080", " a.example.com", "localhost "}, seen, "what the application met")
			assert.Equal(t, Stats{Allowed: 3, Rejected: [NumReasons]uint64{ReasonMalformedHost: 1, ReasonHostNotAllowed: 6, ReasonHostMismatch: 3}}, f.Stats())
		})
	}
}
