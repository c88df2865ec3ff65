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

	slow := exec.Command(curl, "-sS", "--unix-socket", sock, "-w", " %{http_code}", "http://localhost/slow?d=3s")
	var slowOut strings.Builder
	slow.Stdout, slow.Stderr = &slowOut, &slowOut
	require.NoError(t, slow.Start())

	wrkCmd := exec.Command(wrk, "-t2", "-c16", "-d3s", "--latency", s.url()+"/")
	h2Cmd := exec.Command(h2load, "-c8", "-m8", "-D", "3", s.url()+"/")
	var wrkOut, h2Out strings.Builder
	wrkCmd.Stdout, wrkCmd.Stderr = &wrkOut, &wrkOut
	h2Cmd.Stdout, h2Cmd.Stderr = &h2Out, &h2Out
	require.NoError(t, wrkCmd.Start())
	require.NoError(t, h2Cmd.Start())

	time.Sleep(500 * time.Millisecond)
	stopAt := time.Now()
	s.signal(t, syscall.SIGTERM)

	require.NoError(t, wrkCmd.Wait(), wrkOut.String())
	require.NoError(t, h2Cmd.Wait(), h2Out.String())
	require.NoError(t, slow.Wait(), slowOut.String())
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
