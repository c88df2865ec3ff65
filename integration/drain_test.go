//go:build integration

package integration

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestDrainUnderLoad sends SIGTERM to the example server while clients load
// it and a slow request is in flight over its Unix socket, and keeps the
// load going through the whole drain delay and past the moment the
// listeners close, when the process is gone. No request a client sent
// fails: once the listeners are closed, new connections are refused, which
// no client mistakes for a request lost.
//
//   - wrk, HTTP/1.1 keep-alive, reconnects after each Connection: close
//     and counts every other failure. It may see no read error (a
//     connection reset or closed under a request) nor timeout; its write
//     errors are the connections refused once the listeners are closed.
//   - h2load, h2c with one stream at a time per connection. It does not
//     reconnect after GOAWAY, so each of its connections stops at the
//     first response of the drain; it counts a stream the server discards
//     after GOAWAY as errored, and none may be.
//   - Go's client over h2c, which reconnects after GOAWAY and retries the
//     streams a GOAWAY discards, as browsers do: only connections refused
//     once the listeners are closed may fail.
func TestDrainUnderLoad(t *testing.T) {
	wrk, h2load, curl := requirePeer(t, "wrk"), requirePeer(t, "h2load"), requirePeer(t, "curl")
	sock := filepath.Join(t.TempDir(), "server.sock")
	s := startServer(t, "-h2c", "-unix", sock, "-drain-delay", "2s", "-shutdown-timeout", "10s")

	// Each client's output is read only once it has exited. The load lasts
	// 5 s: 0.5 s before SIGTERM, the 2 s drain delay, and 2.5 s more, well
	// past the moment the server is gone.
	var slowOut, wrkOut, h2Out strings.Builder
	client := func(out *strings.Builder, name string, args ...string) *testserver.Process {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = out, out
		return testserver.StartProcess(t, cmd)
	}
	slow := client(&slowOut, curl, "-sS", "--unix-socket", sock, "-w", " %{http_code}", "http://localhost/slow?d=3s")
	wrkProc := client(&wrkOut, wrk, "-t2", "-c16", "-d5s", s.url()+"/")
	h2Proc := client(&h2Out, h2load, "-c8", "-m1", "-D", "5", s.url()+"/")
	goLoad := startH2CLoad(s.url()+"/", 8, 5*time.Second)

	time.Sleep(500 * time.Millisecond)
	stopAt := time.Now()
	goLoad.stopped.Store(true)
	s.signal(t, syscall.SIGTERM)

	require.NoError(t, s.wait(t, 15*time.Second), s.logs.String())
	took := time.Since(stopAt)
	require.NoError(t, wrkProc.Err(), wrkOut.String())
	require.NoError(t, h2Proc.Err(), h2Out.String())
	require.NoError(t, slow.Err(), slowOut.String())
	g := goLoad.wait()

	w := wrkOut.String()
	assert.NotContains(t, w, "Non-2xx", w)
	wrkRequests := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(w)
	require.NotNil(t, wrkRequests, w)
	sockErrs := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(w)
	require.NotNil(t, sockErrs, "wrk saw no refused connection: its load ended before the server did: %s", w)
	// The server's stop line (silent connections closed, refusals, slow
	// clients cut) tells which of its closes a failure follows.
	stopLine := regexp.MustCompile(`(?m)^.*msg=stopped.*$`).FindString(s.logs.String())
	assert.Equal(t, "0", sockErrs[2], "wrk read errors, connections closed under a request: %s\nserver: %s", w, stopLine)
	assert.Equal(t, "0", sockErrs[4], "wrk timeouts: %s\nserver: %s", w, stopLine)

	h := h2Out.String()
	m := regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`).FindStringSubmatch(h)
	require.NotNil(t, m, h)
	assert.Equal(t, m[3], m[4], "every h2load request done succeeded: %s", h)
	assert.Equal(t, "0", m[5], h)
	assert.Equal(t, "0", m[6], h)
	assert.Equal(t, "0", m[7], h)
	status := regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`).FindStringSubmatch(h)
	require.NotNil(t, status, h)
	assert.Equal(t, m[4], status[1], "all 2xx: %s", h)

	assert.Zero(t, g.failed, "Go's h2c client: failures other than refused connections, the first ones: %v", g.failures)
	assert.Positive(t, g.afterStop, "Go's h2c client: no request succeeded after SIGTERM")
	assert.Positive(t, g.refused, "Go's h2c client: no connection refused, its load ended before the server did")

	assert.Equal(t, "waited 3s\n 200", slowOut.String())
	assert.Less(t, took, 10*time.Second, "exited within the shutdown timeout after the drain delay")
	_, err := os.Stat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed")
	assert.Contains(t, s.logs.String(), "timed_out=false")
	t.Logf("drain under load, exit %v after SIGTERM (2 s of it the drain delay): "+
		"wrk %s requests, socket errors connect %s read %s write (refused connections) %s timeout %s; "+
		"h2load %s requests done, %s succeeded, %s errored; "+
		"Go h2c %d requests, %d after SIGTERM, %d refused connections, %d other failures",
		took.Round(time.Millisecond), wrkRequests[1], sockErrs[1], sockErrs[2], sockErrs[3], sockErrs[4],
		m[3], m[4], m[6], g.ok, g.afterStop, g.refused, g.failed)
}

// h2cLoad is Go's HTTP client loading a server over h2c from several
// goroutines, each sending its next request once it has the last response.
type h2cLoad struct {
	done    chan struct{}
	stopped atomic.Bool // set when the server is told to stop

	mu        sync.Mutex
	ok        int     // requests answered 200
	afterStop int     // of which once stopped was set
	refused   int     // requests whose connection was refused
	failed    int     // every other request
	failures  []error // the errors of the first of them
}

// startH2CLoad loads url with n goroutines for d.
func startH2CLoad(url string, n int, d time.Duration) *h2cLoad {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	l := &h2cLoad{done: make(chan struct{})}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(end) {
				if err := get(c, url); l.record(err) {
					// Back off, as a client would, rather than spin.
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		close(l.done)
	}()
	return l
}

func get(c *http.Client, url string) error {
	res, err := c.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
		return errors.New(res.Proto + " " + res.Status)
	}
	return nil
}

// record counts the outcome of a request, and reports whether it failed.
func (l *h2cLoad) record(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		l.ok++
		if l.stopped.Load() {
			l.afterStop++
		}
		return false
	case errors.Is(err, syscall.ECONNREFUSED):
		l.refused++
	default:
		l.failed++
		if len(l.failures) < 5 {
			l.failures = append(l.failures, err)
		}
	}
	return true
}

// wait waits for the load to end and returns it.
func (l *h2cLoad) wait() *h2cLoad {
	<-l.done
	return l
}
