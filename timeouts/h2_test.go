package timeouts

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2ZeroWindowClientCut speaks HTTP/2 frames by hand: a client that
// opens no flow-control window at all, so that even a small response cannot
// be sent. Without a bound the stream's last bytes would wait for ever; the
// response rate resets the stream once the allowance runs out.
func TestHTTP2ZeroWindowClientCut(t *testing.T) {
	out := Rate{BytesPerSecond: 1e6, GracePeriod: 300 * time.Millisecond}
	pol, err := New(Config{MinResponseDataRate: out})
	require.NoError(t, err)
	s := serve(t, pol, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a small response, under the 4 KiB buffer")
	}), h2c)

	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}))
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}} {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}))
	}
	start := time.Now()
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}))

	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "the server must end the stream")
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, fr.WriteSettingsAck())
			}
		case *http2.DataFrame:
			t.Fatalf("DATA sent into a zero window")
		case *http2.RSTStreamFrame:
			assert.EqualValues(t, 1, f.StreamID)
			assert.GreaterOrEqual(t, time.Since(start), out.GracePeriod)
			// net/http itself cut the stream, at the deadline the
			// handler's end set: after the handler, there is nothing
			// to count it against.
			assert.Zero(t, pol.Stats().ResponseRateViolations)
			return
		}
	}
}
