//go:build integration

package integration

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHeaderTableSizeRace is the regression probe for GO-2026-6617
// (CVE-2026-97032): before Go 1.26.9 and 1.27.2, net/http's HTTP/2 server
// resized its HPACK encoder's table when a client's SETTINGS_HEADER_TABLE_SIZE
// arrived, while another goroutine could be encoding a response header with
// it, and a client racing the two could crash the whole process. The probe
// keeps many responses in flight on one connection, some large enough that
// their headers are written while the connection's buffer is full, and sends
// SETTINGS that change the table size between them; a bystander on another
// connection must be served throughout, and the server must still be running
// at the end.
func TestHeaderTableSizeRace(t *testing.T) {
	s := startServer(t, "-h2c")
	stop := make(chan struct{})
	wait := bystander(s.url(), stop)

	var responses atomic.Int64
	a := dialAttacker(t, s.hostPort(), func(f http2.Frame) {
		if _, ok := f.(*http2.HeadersFrame); ok {
			responses.Add(1)
		}
	})
	// Windows wide enough for the whole probe, opened once, so that the
	// reader never has to write.
	a.mu.Lock()
	require.NoError(t, a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}))
	require.NoError(t, a.fr.WriteWindowUpdate(0, 1<<30))
	a.mu.Unlock()

	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	paths := []string{"/", "/stream?bytes=70000", "/nowhere"}
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		sizes := []uint32{0, 1, 64, 4096, 65536}
		for time.Now().Before(deadline) && !a.isClosed() {
			a.mu.Lock()
			err := a.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: sizes[rand.IntN(len(sizes))]})
			a.mu.Unlock()
			if err != nil {
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	sent := 0
	for id := uint32(1); time.Now().Before(deadline) && !a.isClosed(); id += 2 {
		// Stay under the server's concurrent-stream limit.
		for int64(sent)-responses.Load() >= 50 && time.Now().Before(deadline) && !a.isClosed() {
			time.Sleep(100 * time.Microsecond)
		}
		block.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", s.hostPort()}, {":path", paths[int(id/2)%len(paths)]}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		a.mu.Lock()
		err := a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		a.mu.Unlock()
		if err != nil {
			break
		}
		sent++
	}
	wg.Wait()
	closedEarly := a.isClosed() && time.Now().Before(deadline)
	close(stop)
	ok, errs := wait()
	select {
	case <-s.proc.Done():
		t.Fatalf("the server died during the probe (%d requests sent, %d answered): %v\n%s", sent, responses.Load(), s.proc.Err(), s.logs)
	default:
	}

	if closedEarly {
		why := "closed"
		if g := a.goAway.Load(); g != nil {
			why = "sent GOAWAY " + g.ErrCode.String()
		}
		t.Errorf("the server %s the probe's connection after %d requests, before the probe ended", why, sent)
	}
	assert.Empty(t, errs, "the bystander's requests must succeed")
	assert.Positive(t, ok)
	assert.Greater(t, responses.Load(), int64(1000), "the probe's own requests must be answered")
	res, err := h2cClient().Get(s.url() + "/")
	require.NoError(t, err, "the server must still serve after the probe")
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	t.Logf("SETTINGS_HEADER_TABLE_SIZE race: %d requests sent, %d answered on the probe's connection; the bystander had %d answered", sent, responses.Load(), ok)
}
