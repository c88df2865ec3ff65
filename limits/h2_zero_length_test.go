package limits

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Over HTTP/2 a request with a ContentLength of 0 gets no body wrapper
// (internal/reqbody): net/http's server lets no byte past a declared length
// of 0. A client that declares content-length: 0 and sends 8 bytes all the
// same gets none of them to the handler, and a GET, whose Body is not
// http.NoBody over HTTP/2, is served as one without a body.
func TestH2ZeroLengthBodyHasNoBytes(t *testing.T) {
	for _, p := range []proto{h2c, h2tls} {
		t.Run(string(p), func(t *testing.T) {
			var read atomic.Int64
			lim, err := New(Config{MaxRequestBodySize: 4})
			require.NoError(t, err)
			s := serve(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(io.Discard, r.Body)
				read.Add(n)
				fmt.Fprintf(w, "%d %d %v", r.ContentLength, n, err != nil)
			}), p)
			h := dialH2(t, s)

			assert.Equal(t, h2Answer{status: 200, body: "0 0 false"}, h.do(t, h.get("x", "/get")))

			// POST, content-length: 0, then 8 bytes of DATA.
			h.encBuf.Reset()
			for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: h.scheme},
				{Name: ":authority", Value: "x"}, {Name: ":path", Value: "/post"}, {Name: "content-length", Value: "0"}} {
				require.NoError(t, h.enc.WriteField(f))
			}
			id := h.stream
			h.stream += 2
			require.NoError(t, h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.encBuf.Bytes(), EndHeaders: true}))
			require.NoError(t, h.fr.WriteData(id, true, []byte("12345678")))
			for {
				f, err := h.fr.ReadFrame()
				require.NoError(t, err)
				if d, ok := f.(*http2.DataFrame); ok && d.StreamID == id {
					assert.Contains(t, []string{"0 0 false", "0 0 true"}, string(d.Data()), "the handler read nothing")
					break
				}
				if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == id {
					break // refused before or after the handler: it read nothing either way
				}
			}
			assert.Zero(t, read.Load(), "no byte past a declared length of 0 reached the handler")
		})
	}
}
