package windhover_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/limits"
)

// childEnv makes the test binary play a socket-activated server: its value
// is the endpoint URLs, comma-separated.
const childEnv = "WINDHOVER_TEST_SYSTEMD_ENDPOINTS"

func TestMain(m *testing.M) {
	if urls := os.Getenv(childEnv); urls != "" {
		activatedServer(strings.Split(urls, ","))
		return
	}
	os.Exit(m.Run())
}

// activatedReport is what the activated server prints once it listens, or
// fails to.
type activatedReport struct {
	URLs []string
	Err  string
}

// activatedServer hardens a server with a 64-byte request line limit on
// the endpoints urls, reports what Listen bound, and serves until SIGTERM.
func activatedServer(urls []string) {
	report := func(r activatedReport) { _ = json.NewEncoder(os.Stdout).Encode(r) }
	var cfg windhover.Config
	for _, u := range urls {
		ep, err := windhover.ParseEndpoint(u)
		if err != nil {
			report(activatedReport{Err: err.Error()})
			return
		}
		cfg.Endpoints = append(cfg.Endpoints, ep)
	}
	cfg.Limits = limits.Config{MaxRequestLineSize: 64}
	cfg.Shutdown.ShutdownTimeout = 5 * time.Second // SIGTERM drains, without a delay
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") })}
	s, err := windhover.Harden(srv, cfg)
	if err != nil {
		report(activatedReport{Err: err.Error()})
		return
	}
	bound, err := s.Listen()
	if err != nil {
		report(activatedReport{Err: err.Error()})
		return
	}
	var r activatedReport
	for _, b := range bound {
		r.URLs = append(r.URLs, b.URL())
	}
	report(r)
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "Run:", err)
		os.Exit(1)
	}
}

// startActivated starts the test binary as systemd starts a socket-activated
// service: files from descriptor 3 on, named by names, LISTEN_PID its own
// (a shell sets it and execs), serving the endpoints urls.
func startActivated(t *testing.T, urls string, names []string, files ...*os.File) (*exec.Cmd, activatedReport) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0"`, exe)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"="+urls, "GORACE=atexit_sleep_ms=0",
		fmt.Sprintf("LISTEN_FDS=%d", len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadBytes('\n')
	require.NoError(t, err, "the activated server's report")
	var r activatedReport
	require.NoError(t, json.Unmarshal(line, &r), "%s", line)
	return cmd, r
}

// fileOf returns the descriptor of a listener, to pass to a child.
func fileOf(t *testing.T, ln interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := ln.File()
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSystemdEndpoints: endpoints "http://systemd:NAME" serve the sockets
// systemd passed under each name, a TCP port and a Unix socket, with every
// protection (a request line over the limit gets 414); the server drains on
// SIGTERM and exits cleanly.
func TestSystemdEndpoints(t *testing.T) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer tcp.Close()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	unix, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	defer unix.Close()

	cmd, r := startActivated(t, "http://systemd:web,http://systemd:admin", []string{"web", "admin"}, fileOf(t, tcp), fileOf(t, unix))
	require.Empty(t, r.Err)
	assert.Equal(t, []string{"http://" + tcp.Addr().String(), "unix:" + sock}, r.URLs)

	get := func(network, addr, target string) string {
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target)
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %s", res.StatusCode, b)
	}
	assert.Equal(t, "200 served", get("tcp", tcp.Addr().String(), "/"))
	assert.Equal(t, "200 served", get("unix", sock, "/"))
	long := "/" + strings.Repeat("a", 64)
	assert.True(t, strings.HasPrefix(get("tcp", tcp.Addr().String(), long), "414 "), "the request line limit holds on an activated socket")
	assert.True(t, strings.HasPrefix(get("unix", sock, long), "414 "))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "a clean drain")
	case <-time.After(15 * time.Second):
		t.Fatal("the activated server did not stop on SIGTERM")
	}
}

// TestSystemdEndpointsRefused: a socket passed that no endpoint names, a
// name no socket has, and an endpoint of a process systemd did not start
// are errors of Listen, naming the socket or the variable.
func TestSystemdEndpointsRefused(t *testing.T) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer tcp.Close()
	other, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer other.Close()
	files := []*os.File{fileOf(t, tcp), fileOf(t, other)}

	_, r := startActivated(t, "http://systemd:web", []string{"web", "admin"}, files...)
	assert.Contains(t, r.Err, `systemd passed socket "admin" (fd 4), which no endpoint names: add http://systemd:admin`)
	_, r = startActivated(t, "http://systemd:web,http://systemd:metrics", []string{"web", "admin"}, files...)
	assert.Contains(t, r.Err, `endpoint Config.Endpoints[1] (http://systemd:metrics): systemd passed no socket named "metrics"`)
	_, r = startActivated(t, "http://systemd:", []string{"web", "admin"}, files...)
	assert.Empty(t, r.Err, "every socket served")
	assert.Len(t, r.URLs, 2)

	t.Setenv("LISTEN_PID", "")
	ep, err := windhover.ParseEndpoint("http://systemd:web")
	require.NoError(t, err)
	s, err := windhover.Harden(&http.Server{}, windhover.Config{Endpoints: []windhover.Endpoint{ep}})
	require.NoError(t, err)
	_, err = s.Listen()
	assert.ErrorContains(t, err, "systemd socket activation: ")
	assert.ErrorContains(t, err, "LISTEN_PID is not set")
}
