package windhover_test

import (
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/internal/testserver"
)

// TestHardenStreamPanic: an HTTP/2 stream's handler runs on a worker
// goroutine (internal/stack). A panic there still resets the stream, as
// net/http does for a handler's panic, and is logged to the server's
// ErrorLog with the worker's stack, which names the handler that panicked;
// http.ErrAbortHandler is not logged; the server goes on serving. Over
// HTTP/1 nothing changes: net/http's own report only.
func TestHardenStreamPanic(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H2C, testserver.H2, testserver.H1} {
		t.Run(string(p), func(t *testing.T) {
			var logs testserver.SyncBuffer
			mux := http.NewServeMux()
			mux.HandleFunc("/panic", panicWithBoom)
			mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
			ts := testserver.Start(t, mux, p, func(ts *httptest.Server) {
				_, err := windhover.Harden(ts.Config, windhover.Config{})
				require.NoError(t, err)
				ts.Config.ErrorLog = log.New(&logs, "", 0)
			})

			res, err := ts.Client.Get(ts.URL + "/panic")
			if err == nil {
				res.Body.Close()
			}
			require.Error(t, err, "the stream or connection is reset")
			netHTTPLine := "http: panic serving" // net/http's own report
			if p.IsHTTP2() {
				netHTTPLine = "http2: panic serving"
			}
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), netHTTPLine) }, 5*time.Second, 10*time.Millisecond)
			if p.IsHTTP2() {
				assert.Contains(t, logs.String(), "windhover: panic serving", "the worker's report")
				assert.Contains(t, logs.String(), "boom-"+string(p))
				assert.Contains(t, logs.String(), "windhover_test.panicWithBoom", "the worker's stack names the handler")
			} else {
				assert.NotContains(t, logs.String(), "windhover: panic serving", "HTTP/1 is served on its own goroutine")
			}

			before := logs.String()
			res, err = ts.Client.Get(ts.URL + "/abort")
			if err == nil {
				res.Body.Close()
			}
			require.Error(t, err)
			code, body := ts.Get(t, "/", nil)
			assert.Equal(t, 200, code)
			assert.Equal(t, "ok", body)
			assert.Equal(t, before, logs.String(), "ErrAbortHandler is not logged")
		})
	}
}

// panicWithBoom panics with a value naming the protocol.
func panicWithBoom(w http.ResponseWriter, r *http.Request) {
	proto := "h1"
	switch {
	case r.ProtoMajor == 2 && r.TLS != nil:
		proto = "h2"
	case r.ProtoMajor == 2:
		proto = "h2c"
	}
	panic("boom-" + proto)
}

// TestHardenStreamGoroutines: with Config.StreamGoroutines an HTTP/2 stream's
// handler runs on the stream's own goroutine, as net/http runs it: a panic
// is net/http's alone to report.
func TestHardenStreamGoroutines(t *testing.T) {
	var logs testserver.SyncBuffer
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", panicWithBoom)
	ts := testserver.Start(t, mux, testserver.H2C, func(ts *httptest.Server) {
		_, err := windhover.Harden(ts.Config, windhover.Config{StreamGoroutines: true})
		require.NoError(t, err)
		ts.Config.ErrorLog = log.New(&logs, "", 0)
	})
	res, err := ts.Client.Get(ts.URL + "/panic")
	if err == nil {
		res.Body.Close()
	}
	require.Error(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "http2: panic serving") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "windhover_test.panicWithBoom", "net/http's stack is the handler's")
	assert.NotContains(t, logs.String(), "windhover: panic serving")
}

// TestHardenShutdownEndsWorkers: a server shut down leaves no stream worker
// behind, without waiting for their idle timeout, so that a goroutine leak
// check after Shutdown passes. It runs in a child process of its own, where
// no other test's server has workers.
func TestHardenShutdownEndsWorkers(t *testing.T) {
	if os.Getenv("WINDHOVER_TEST_WORKERS_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHardenShutdownEndsWorkers$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WINDHOVER_TEST_WORKERS_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the child process:\n%s", out)
		require.Contains(t, string(out), "PASS")
		return
	}
	workers := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "stack.(*Pool).work(")
	}
	ts := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }), testserver.H2C,
		func(ts *httptest.Server) {
			_, err := windhover.Harden(ts.Config, windhover.Config{})
			require.NoError(t, err)
		})
	for range 3 {
		code, _ := ts.Get(t, "/", nil)
		require.Equal(t, 200, code)
	}
	require.Positive(t, workers(), "the requests were served on workers")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ts.Config.Shutdown(ctx))
	require.Eventually(t, func() bool { return workers() == 0 }, 2*time.Second, 10*time.Millisecond, "workers left after Shutdown")
}
