//go:build integration

package integration

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestSystemdSocketActivation starts the example server the way systemd
// does, with systemd-socket-activate holding a Unix socket and a TCP port
// named "app" and "http": the server serves on both inherited sockets over
// HTTP/1.1 and h2c, drains on SIGTERM, and leaves the socket file, which is
// systemd's, in place.
func TestSystemdSocketActivation(t *testing.T) {
	activate := requirePeer(t, "systemd-socket-activate")
	sock := filepath.Join(t.TempDir(), "app.sock")
	tcpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))

	cmd := exec.Command(activate, "-l", sock, "-l", tcpAddr, "--fdname=app:http", serverBin, "-h2c")
	logs := &testserver.SyncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	proc := testserver.StartProcess(t, cmd)
	lines := bufio.NewReader(stdout)
	ready := make(chan string, 1)
	go func() {
		line, _ := lines.ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, lines)
	}()

	// systemd-socket-activate starts the server at the first connection.
	testserver.Eventually(t, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "systemd-socket-activate does not listen: %s", logs)
	select {
	case line := <-ready:
		assert.Contains(t, line, "unix:"+sock)
		assert.Contains(t, line, "http://"+tcpAddr)
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; logs:\n%s", logs)
	}
	testserver.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "name=app") && strings.Contains(logs.String(), "name=http")
	}, "the server logs the names of the sockets it inherited: %s", logs)

	for _, tc := range []struct {
		network, addr string
		h2c           bool
	}{{"unix", sock, false}, {"unix", sock, true}, {"tcp", tcpAddr, false}, {"tcp", tcpAddr, true}} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(!tc.h2c)
		tr.Protocols.SetUnencryptedHTTP2(tc.h2c)
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, tc.network, tc.addr)
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		res, err := c.Get("http://localhost/")
		require.NoError(t, err, "%s", logs)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode, "%s h2c=%v", tc.network, tc.h2c)
		assert.Equal(t, "hello\n", string(body))
		want := "HTTP/1.1"
		if tc.h2c {
			want = "HTTP/2.0"
		}
		assert.Equal(t, want, res.Proto)
		c.CloseIdleConnections()
	}

	require.NoError(t, proc.Stop(t, syscall.SIGTERM), "%s", logs)
	assert.Contains(t, logs.String(), "msg=stopped")
	fi, err := os.Lstat(sock)
	require.NoError(t, err, "the inherited socket's file is systemd's: left in place")
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	assert.False(t, strings.Contains(logs.String(), "level=ERROR"), "%s", logs)
}
