//go:build integration

package integration

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cClient is an HTTP/2 client with prior knowledge, for the bystander
// whose requests must keep succeeding during an attack.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// bystander sends requests on its own connection until stop closes, and
// reports how many succeeded and the errors of those that did not.
func bystander(url string, stop <-chan struct{}) (wait func() (int, []error)) {
	var ok int
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := h2cClient()
		defer c.CloseIdleConnections()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := c.Get(url + "/")
			if err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(body) != "hello\n" {
					err = &unexpected{res.Status, string(body)}
				}
			}
			if err != nil {
				errs = append(errs, err)
			} else {
				ok++
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() (int, []error) { <-done; return ok, errs }
}

type unexpected struct{ status, body string }

func (u *unexpected) Error() string { return "unexpected answer " + u.status + ": " + u.body }

// attacker is a raw HTTP/2 connection with prior knowledge.
type attacker struct {
	c  net.Conn
	fr *http2.Framer
	mu sync.Mutex // guards writes: the reader acknowledges SETTINGS

	closed chan struct{} // the server closed the connection
	goAway atomic.Pointer[http2.GoAwayFrame]

	// onFrame, if set, sees every frame the reader takes. It must not
	// write: the reader never waits for the writers' lock, lest both sides
	// wait for the other to read.
	onFrame func(http2.Frame)
}

func dialAttacker(t *testing.T, addr string, onFrame ...func(http2.Frame)) *attacker {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	a := &attacker{c: c, fr: http2.NewFramer(c, c), closed: make(chan struct{})}
	if len(onFrame) > 0 {
		a.onFrame = onFrame[0]
	}
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	require.NoError(t, a.fr.WriteSettings())
	go a.read()
	return a
}

// read takes the server's frames, acknowledging its SETTINGS, until the
// connection ends.
func (a *attacker) read() {
	defer close(a.closed)
	for {
		f, err := a.fr.ReadFrame()
		if err != nil {
			return
		}
		if a.onFrame != nil {
			a.onFrame(f)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				a.mu.Lock()
				_ = a.fr.WriteSettingsAck()
				a.mu.Unlock()
			}
		case *http2.GoAwayFrame:
			g := *f
			a.goAway.Store(&g)
		}
	}
}

func (a *attacker) isClosed() bool {
	select {
	case <-a.closed:
		return true
	default:
		return false
	}
}

func requestBlock(authority string, extra ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", "/"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	return buf.Bytes()
}

// TestRapidReset opens and at once cancels streams as fast as one connection
// can (CVE-2023-44487) while a bystander keeps requesting on another
// connection: every bystander request succeeds.
func TestRapidReset(t *testing.T) {
	s := startServer(t, "-h2c")
	stop := make(chan struct{})
	wait := bystander(s.url(), stop)

	a := dialAttacker(t, s.hostPort())
	block := requestBlock(s.hostPort())
	const streams = 20_000
	sent := 0
	start := time.Now()
	for id := uint32(1); sent < streams && !a.isClosed(); id += 2 {
		a.mu.Lock()
		err := a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
		if err == nil {
			err = a.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		a.mu.Unlock()
		if err != nil {
			break
		}
		sent++
	}
	elapsed := time.Since(start)
	// Let the server work through what it has read.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	ok, errs := wait()
	assert.Empty(t, errs, "the bystander's requests must succeed during the attack")
	assert.Positive(t, ok)
	why := "the connection stayed open"
	if g := a.goAway.Load(); g != nil {
		why = "GOAWAY " + g.ErrCode.String()
	} else if a.isClosed() {
		why = "the connection was closed"
	}
	t.Logf("rapid reset: %d streams opened and reset in %v (%s); the bystander had %d requests answered", sent, elapsed.Round(time.Millisecond), why, ok)
}

// TestContinuationFlood sends a header block that never ends, in endless
// CONTINUATION frames (CVE-2024-27316): the server must close the connection
// once the block passes its header limit, well before the attacker has sent
// a megabyte, and keep serving others meanwhile.
func TestContinuationFlood(t *testing.T) {
	s := startServer(t, "-h2c")
	stop := make(chan struct{})
	wait := bystander(s.url(), stop)

	a := dialAttacker(t, s.hostPort())
	// A small send buffer, so that what was written is close to what the
	// server has read (or left in its own receive buffer).
	require.NoError(t, a.c.(*net.TCPConn).SetWriteBuffer(16<<10))
	var frag bytes.Buffer
	enc := hpack.NewEncoder(&frag)
	_ = enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 1000), Sensitive: true})
	var sentBytes int
	a.mu.Lock()
	err := a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock(s.hostPort())})
	a.mu.Unlock()
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for !a.isClosed() && time.Now().Before(deadline) && sentBytes < 16<<20 {
		a.mu.Lock()
		err = a.fr.WriteContinuation(1, false, frag.Bytes())
		a.mu.Unlock()
		if err != nil {
			break
		}
		sentBytes += frag.Len()
	}
	select {
	case <-a.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("the server still reads the flood after %d bytes", sentBytes)
	}
	close(stop)
	ok, errs := wait()
	assert.Empty(t, errs)
	assert.Less(t, sentBytes, 1<<20, "the server must stop reading a header block past its limit")
	why := "closed the connection"
	if g := a.goAway.Load(); g != nil {
		why = "sent GOAWAY " + g.ErrCode.String()
	}
	t.Logf("CONTINUATION flood: the server %s after %d bytes of header block had been written to it; the bystander had %d requests answered", why, sentBytes, ok)

	// The server is still fine for a new client.
	res, err := h2cClient().Get(s.url() + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
}
