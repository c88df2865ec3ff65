package limits

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client is a raw HTTP/2 client connection, TLS or h2c, that sends header
// blocks field by field as written, cookie crumbs included, which net/http's
// client would rewrite.
type h2Client struct {
	c      net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	dec    *hpack.Decoder
	stream uint32
	scheme string
}

func dialH2(t *testing.T, s *testserver.Server) *h2Client {
	t.Helper()
	h := &h2Client{stream: 1, scheme: "http"}
	var err error
	if s.Proto == h2tls {
		h.scheme = "https"
		h.c, err = tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: testserver.RootCAs(s.Server), NextProtos: []string{"h2"}})
		if err == nil && h.c.(*tls.Conn).ConnectionState().NegotiatedProtocol != "h2" {
			err = io.ErrUnexpectedEOF
		}
	} else {
		h.c, err = net.Dial("tcp", s.Addr())
	}
	require.NoError(t, err)
	t.Cleanup(func() { h.c.Close() })
	require.NoError(t, h.c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(h.c, http2.ClientPreface)
	require.NoError(t, err)
	h.fr = http2.NewFramer(h.c, h.c)
	h.enc = hpack.NewEncoder(&h.encBuf)
	h.dec = hpack.NewDecoder(4096, nil)
	require.NoError(t, h.fr.WriteSettings())
	return h
}

// get returns the pseudo-header fields of a GET for path with the given
// :authority (none if empty), followed by the name, value pairs of fields.
func (h *h2Client) get(authority, path string, fields ...string) []hpack.HeaderField {
	hf := []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: h.scheme}}
	if authority != "" {
		hf = append(hf, hpack.HeaderField{Name: ":authority", Value: authority})
	}
	hf = append(hf, hpack.HeaderField{Name: ":path", Value: path})
	for i := 0; i+1 < len(fields); i += 2 {
		hf = append(hf, hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return hf
}

// h2Answer is how the server answered one stream.
type h2Answer struct {
	status int
	body   string
	reset  http2.ErrCode
}

// do sends fields as one request without a body, in a HEADERS frame and as
// many CONTINUATION frames as the default frame size calls for, and reads
// the answer on its stream.
func (h *h2Client) do(t *testing.T, fields []hpack.HeaderField) h2Answer {
	t.Helper()
	h.encBuf.Reset()
	for _, f := range fields {
		require.NoError(t, h.enc.WriteField(f))
	}
	id := h.stream
	h.stream += 2
	block := h.encBuf.Bytes()
	const frameSize = 16384
	first := block[:min(len(block), frameSize)]
	block = block[len(first):]
	require.NoError(t, h.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(block) == 0,
	}))
	for len(block) > 0 {
		frag := block[:min(len(block), frameSize)]
		block = block[len(frag):]
		require.NoError(t, h.fr.WriteContinuation(id, len(block) == 0, frag))
	}
	var res h2Answer
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

// sentFootprint is the number of fields and their size as Kestrel counts
// an HTTP/2 header block: every field, its name and its value.
func sentFootprint(fields []hpack.HeaderField) (count, size int) {
	for _, f := range fields {
		size += len(f.Name) + len(f.Value)
	}
	return len(fields), size
}

// crumbs returns n "cookie" fields, each a crumb of valueLen bytes.
func crumbs(n, valueLen int) []string {
	var fields []string
	for i := range n {
		v := fmt.Sprintf("%d=", i)
		fields = append(fields, "cookie", v+strings.Repeat("v", valueLen-len(v)))
	}
	return fields
}

// footprintEcho answers with the request line size, field count and size
// limits would count for the request.
var footprintEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	count, size := headerFootprint(r)
	fmt.Fprintf(w, "%d %d %d", requestLineSize(r), count, size)
})

// TestH2FootprintAsSent sends header blocks by hand and compares what the
// handler counts, after net/http's HTTP/2 server has parsed and rearranged
// them, with the fields as written.
func TestH2FootprintAsSent(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			s := startServer(t, footprintEcho, p)
			c := dialH2(t, s)
			a := s.Addr()
			for _, tt := range []struct {
				name   string
				fields []hpack.HeaderField
				// Fields net/http leaves no trace of (negative) or joined
				// into one crumb list that is counted crumb by crumb.
				countOff, sizeOff int
			}{
				{name: "pseudo-header fields only", fields: c.get(a, "/p?q=1")},
				{name: "regular fields", fields: c.get(a, "/", "user-agent", "wh", "accept", "*/*", "x-r", "1", "x-r", "22")},
				{name: "cookie crumbs", fields: c.get(a, "/", "cookie", "a=1", "x-a", "v", "cookie", "b=22", "cookie", "c")},
				{name: "empty cookie crumbs", fields: c.get(a, "/", "cookie", "", "cookie", "")},
				{name: "400 crumbs", fields: c.get(a, "/", crumbs(400, 5)...)},
				// Joined, one field with two crumbs is what two crumbs
				// become: it counts as two.
				{name: "two crumbs in one cookie field", fields: c.get(a, "/", "cookie", "a=1; b=2"), countOff: 1, sizeOff: len("cookie") - len("; ")},
				{name: "no :authority, Host field", fields: c.get("", "/", "host", "h.example")},
				{name: "neither :authority nor Host", fields: c.get("", "/")},
				{name: ":authority and another Host", fields: c.get(a, "/", "host", "h.example")},
				{name: ":authority and the same Host", fields: c.get(a, "/", "host", a), countOff: -1, sizeOff: -len(":authority") - len(a)},
				{name: "trailer", fields: c.get(a, "/", "trailer", "x-t")},
				{name: "content-length", fields: c.get(a, "/", "content-length", "0")},
				{name: "expect 100-continue", fields: c.get(a, "/", "expect", "100-continue"), countOff: -1, sizeOff: -len("expect") - len("100-continue")},
				{name: "CONNECT", fields: []hpack.HeaderField{{Name: ":method", Value: "CONNECT"}, {Name: ":authority", Value: "example.com:443"}}},
			} {
				count, size := sentFootprint(tt.fields)
				var method, scheme, authority, path string
				hostField := ""
				for _, f := range tt.fields {
					switch f.Name {
					case ":method":
						method = f.Value
					case ":scheme":
						scheme = f.Value
					case ":authority":
						authority = f.Value
					case ":path":
						path = f.Value
					case "host":
						hostField = f.Value
					}
				}
				if authority == "" {
					authority = hostField
				}
				line := len(method) + len(scheme) + len(authority) + len(path)
				got := c.do(t, tt.fields)
				require.Equal(t, 200, got.status, tt.name)
				assert.Equal(t, fmt.Sprintf("%d %d %d", line, count+tt.countOff, size+tt.sizeOff), got.body, tt.name)
			}
		})
	}
}

// TestH2CookieCrumbCountBoundary: each crumb is a field. With the default
// limit of 100, the four pseudo-header fields and 96 crumbs pass and 97
// crumbs get 431; so do 1,000, which net/http joins into one Cookie value.
func TestH2CookieCrumbCountBoundary(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			c := dialH2(t, s)
			fields := c.get(s.Addr(), "/", crumbs(DefaultMaxRequestHeaderCount-4, 8)...)
			count, _ := sentFootprint(fields)
			require.Equal(t, DefaultMaxRequestHeaderCount, count)
			assert.Equal(t, h2Answer{status: 200, body: "hello\n"}, c.do(t, fields), "exactly the limit passes")

			fields = c.get(s.Addr(), "/", crumbs(DefaultMaxRequestHeaderCount-3, 8)...)
			assert.Equal(t, h2Answer{status: 431, body: "Request Header Fields Too Large\n"}, c.do(t, fields), "one crumb more is refused")
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonTooManyHeaders])

			// On Go 1.27 net/http's MaxHeaderValueCount, which Apply sets
			// just above the limit, answers first.
			got := c.do(t, c.get(s.Addr(), "/", crumbs(1000, 5)...))
			assert.Equal(t, 431, got.status, "1,000 crumbs")
		})
	}
}

// TestH2CookieCrumbSizeBoundary: each crumb counts as a "cookie" field, its
// name and its value, toward MaxRequestHeadersTotalSize, pseudo-header
// fields included.
func TestH2CookieCrumbSizeBoundary(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			c := dialH2(t, s)
			// The fields totalling size bytes: 40 crumbs, the last one
			// padded.
			fieldsOf := func(size int) []hpack.HeaderField {
				fields := c.get(s.Addr(), "/", crumbs(40, 100)...)
				_, have := sentFootprint(fields)
				fields[len(fields)-1].Value += strings.Repeat("p", size-have)
				return fields
			}
			fields := fieldsOf(DefaultMaxRequestHeadersTotalSize)
			_, size := sentFootprint(fields)
			require.Equal(t, DefaultMaxRequestHeadersTotalSize, size)
			assert.Equal(t, h2Answer{status: 200, body: "hello\n"}, c.do(t, fields), "exactly the limit passes")
			assert.Equal(t, 431, c.do(t, fieldsOf(DefaultMaxRequestHeadersTotalSize+1)).status, "one byte more is refused")
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonHeadersTooLarge])
		})
	}
}

// TestH2RequestLineBoundary: the request line is :method, :scheme, the
// authority and :path, the authority taken from the Host field when there is
// no :authority.
func TestH2RequestLineBoundary(t *testing.T) {
	for _, p := range []proto{h2tls, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := New(Config{MaxRequestLineSize: 100})
			require.NoError(t, err)
			s := serve(t, lim, hello, p)
			c := dialH2(t, s)
			for _, authority := range []string{"", s.Addr()} {
				// The request with a line of n bytes.
				request := func(n int) []hpack.HeaderField {
					host := authority
					if host == "" {
						host = "h.example"
					}
					path := "/" + strings.Repeat("a", n-len("GET")-len(c.scheme)-len(host)-1)
					return c.get(authority, path, "host", "h.example")
				}
				assert.Equal(t, 200, c.do(t, request(100)).status, "exactly the limit passes, :authority %q", authority)
				assert.Equal(t, h2Answer{status: 414, body: "Request URI Too Long\n"}, c.do(t, request(101)), "one byte more, :authority %q", authority)
			}
			assert.EqualValues(t, 2, lim.Stats().Rejected[ReasonRequestLineTooLong])
		})
	}
}

func TestH2HeaderFootprintTable(t *testing.T) {
	tls := &tls.ConnectionState{}
	for _, tt := range []struct {
		name        string
		r           *http.Request
		count, size int
	}{
		{"GET over TLS",
			&http.Request{Method: "GET", ProtoMajor: 2, Host: "a.example", RequestURI: "/x", TLS: tls, Header: http.Header{}},
			4, 7 + 3 + 7 + 5 + 10 + 9 + 5 + 2},
		{"three crumbs over h2c",
			&http.Request{Method: "GET", ProtoMajor: 2, Host: "a", RequestURI: "/", Header: http.Header{"Cookie": {"a=1; b=2; c"}}},
			7, 7 + 3 + 7 + 4 + 10 + 1 + 5 + 1 + 3*6 + 3 + 3 + 1},
		{"a crumb with a semicolon but no space",
			&http.Request{Method: "GET", ProtoMajor: 2, Host: "a", RequestURI: "/", Header: http.Header{"Cookie": {"a=1;b=2"}}},
			5, 7 + 3 + 7 + 4 + 10 + 1 + 5 + 1 + 6 + 7},
		{"plain CONNECT",
			&http.Request{Method: "CONNECT", ProtoMajor: 2, Host: "a:443", RequestURI: "a:443", Header: http.Header{}},
			2, 7 + 7 + 10 + 5},
		{"extended CONNECT",
			&http.Request{Method: "CONNECT", ProtoMajor: 2, Host: "a", RequestURI: "/chat", TLS: tls, Header: http.Header{":protocol": {"websocket"}}},
			5, 7 + 7 + 7 + 5 + 10 + 1 + 5 + 5 + 9 + 9},
		{"trailer",
			&http.Request{Method: "GET", ProtoMajor: 2, Host: "a", RequestURI: "/", Header: http.Header{}, Trailer: http.Header{"X-T": nil}},
			5, 7 + 3 + 7 + 4 + 10 + 1 + 5 + 1 + 7 + 3},
	} {
		count, size := headerFootprint(tt.r)
		assert.Equal(t, tt.count, count, tt.name)
		assert.Equal(t, tt.size, size, tt.name)
	}
}

// FuzzH2CookieCrumbs joins crumbs as net/http's HTTP/2 server does and checks
// that the count finds each crumb as the "cookie" field it was sent as.
func FuzzH2CookieCrumbs(f *testing.F) {
	f.Add("a=1", "b=22", "", uint8(3))
	f.Add("session=abc", ";", " ", uint8(1))
	f.Add("x", "y;z", "=", uint8(2))
	f.Fuzz(func(t *testing.T, c1, c2, c3 string, repeat uint8) {
		var sent []string
		for range repeat%8 + 1 {
			for _, c := range []string{c1, c2, c3} {
				if strings.Contains(c, "; ") {
					// The one crumb the join makes look like two; the
					// separator itself can never combine with a
					// neighbour into another "; ".
					return
				}
				sent = append(sent, c)
			}
		}
		r := &http.Request{Method: "GET", ProtoMajor: 2, Host: "a", RequestURI: "/",
			Header: http.Header{"Cookie": {strings.Join(sent, "; ")}}}
		count, size := headerFootprint(r)
		wantCount, wantSize := 4, len(":method")+3+len(":scheme")+4+len(":authority")+1+len(":path")+1
		for _, c := range sent {
			wantCount++
			wantSize += len("cookie") + len(c)
		}
		if count != wantCount || size != wantSize {
			t.Fatalf("crumbs %q: got %d fields in %d bytes, sent %d in %d", sent, count, size, wantCount, wantSize)
		}
	})
}
