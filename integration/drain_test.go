//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestDrainUnderLoad sends SIGTERM to the example server while wrk
// (HTTP/1.1) and h2load (h2c) load it and a slow request is in flight over
// its Unix socket. The drain delay outlasts the load, as a load balancer's
// would once readiness says 503: no request fails, the slow request
// completes, the process exits well within its shutdown timeout, and the
// socket file is gone.
func TestDrainUnderLoad(t *testing.T) {
	wrk, h2load, curl := requirePeer(t, "wrk"), requirePeer(t, "h2load"), requirePeer(t, "curl")
	sock := filepath.Join(t.TempDir(), "server.sock")
	s := startServer(t, "-h2c", "-unix", sock, "-drain-delay", "4s", "-shutdown-timeout", "10s")

	// Each client's output is read only once it has exited.
	var slowOut, wrkOut, h2Out strings.Builder
	client := func(out *strings.Builder, name string, args ...string) *testserver.Process {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = out, out
		return testserver.StartProcess(t, cmd)
	}
	slow := client(&slowOut, curl, "-sS", "--unix-socket", sock, "-w", " %{http_code}", "http://localhost/slow?d=3s")
	wrkProc := client(&wrkOut, wrk, "-t2", "-c16", "-d3s", "--latency", s.url()+"/")
	h2Proc := client(&h2Out, h2load, "-c8", "-m8", "-D", "3", s.url()+"/")

	time.Sleep(500 * time.Millisecond)
	stopAt := time.Now()
	s.signal(t, syscall.SIGTERM)

	require.NoError(t, wrkProc.Err(), wrkOut.String())
	require.NoError(t, h2Proc.Err(), h2Out.String())
	require.NoError(t, slow.Err(), slowOut.String())
	require.NoError(t, s.wait(t, 15*time.Second), s.logs.String())
	took := time.Since(stopAt)

	w := wrkOut.String()
	assert.NotContains(t, w, "Socket errors", w)
	assert.NotContains(t, w, "Non-2xx", w)
	wrkRequests := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(w)
	require.NotNil(t, wrkRequests, w)

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

	assert.Equal(t, "waited 3s\n 200", slowOut.String())
	assert.Less(t, took, 10*time.Second, "exited within the shutdown timeout after the drain delay")
	_, err := os.Stat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed")
	assert.Contains(t, s.logs.String(), "timed_out=false")
	t.Logf("drain under load: wrk %s requests and h2load %s, none failed; the slow request completed; exit %v after SIGTERM (4 s of it the drain delay)",
		wrkRequests[1], m[4], took.Round(time.Millisecond))
}
