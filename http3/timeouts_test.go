package http3_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/timeouts"
)

// The minimum data rates hold per HTTP/3 stream: quic-go's ResponseWriter
// has SetReadDeadline and SetWriteDeadline, which http.ResponseController
// reaches and the timeouts policy sets.
func TestMinDataRatesOverHTTP3(t *testing.T) {
	rate := timeouts.Rate{BytesPerSecond: 10_000, GracePeriod: 300 * time.Millisecond}
	cfg := windhover.Config{Timeouts: timeouts.Config{MinRequestBodyDataRate: rate, MinResponseDataRate: rate}}
	bodyErr := make(chan error, 1)
	st := serve(t, cfg, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.Copy(io.Discard, r.Body)
			bodyErr <- err
		})
		mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 1024 { // 64 MiB, far beyond QUIC's windows
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
	})

	t.Run("slow body: 408", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			defer pw.Close()
			for range 50 { // a byte every 100 ms: 10 bytes a second
				if _, err := pw.Write([]byte("b")); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		start := time.Now()
		code, _, _ := do(t, st.client(t), newRequest(t, http.MethodPost, st.url("", "/upload"), pr))
		pr.Close()
		if code != http.StatusRequestTimeout {
			t.Fatalf("a body at 10 B/s against 10,000: %d, want 408", code)
		}
		if err := <-bodyErr; err == nil {
			t.Error("the handler's read did not fail")
		}
		t.Logf("cut after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("slow reader: stream reset", func(t *testing.T) {
		before := st.ws.Stats().Timeouts.ResponseRateViolations
		res, err := st.client(t).Get(st.url("", "/download"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		// Read nothing: QUIC's flow control stops the server's writes.
		waitFor(t, "the response rate to cut the stream", func() bool {
			return st.ws.Stats().Timeouts.ResponseRateViolations > before
		})
		_, err = io.Copy(io.Discard, res.Body)
		if err == nil {
			t.Error("the response read to its end: not cut")
		} else {
			t.Logf("the client's read: %v", err)
		}
	})
	if n := st.ws.Stats().Timeouts.UnenforceableRequests; n != 0 {
		t.Errorf("%d requests the policy could not enforce over HTTP/3", n)
	}
}

// A handler that leaves the body unread answers at once over HTTP/3, also
// to a client that announced a body and never sends it: the stream's read
// side is cancelled, and nothing waits for the client.
func TestUnreadBodyOverHTTP3(t *testing.T) {
	st := serve(t, windhover.Config{}, http3.Config{}, nil)
	c := st.client(t)
	for _, size := range []int{100, 1 << 20} {
		start := time.Now()
		code, _, _ := do(t, c, newRequest(t, http.MethodPost, st.url("", "/"), bytes.NewReader(make([]byte, size))))
		if code != http.StatusOK {
			t.Errorf("%d bytes unread: %d", size, code)
		}
		t.Logf("%d bytes unread: answered in %v", size, time.Since(start).Round(time.Millisecond))
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	req := newRequest(t, http.MethodPost, st.url("", "/"), pr)
	req.ContentLength = 1000
	start := time.Now()
	code, _, _ := do(t, c, req)
	if took := time.Since(start); code != http.StatusOK || took > 5*time.Second {
		t.Errorf("a body announced and never sent: %d after %v, want 200 at once", code, took)
	}
}
