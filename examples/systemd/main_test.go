//go:build linux

package main

import (
	"context"
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
	"github.com/windhover/windhover/internal/testserver"
)

// childEnv, set in a re-executed test binary, makes it run the program.
const childEnv = "WINDHOVER_EXAMPLE_SYSTEMD_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// logFile returns a new file for the program's log; its String is the
// contents at the time, for failure messages and checks.
func logFile(t *testing.T) *logOf {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return &logOf{f}
}

type logOf struct{ *os.File }

func (l *logOf) String() string {
	b, _ := os.ReadFile(l.Name())
	return string(b)
}

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ex")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// get sends GET / over the Unix socket at path and returns the status and
// body.
func get(t *testing.T, path string, h2c bool) (int, string) {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(!h2c)
	tr.Protocols.SetUnencryptedHTTP2(h2c)
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://app/")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// start runs the program with args and returns a function that stops it
// and returns run's error.
func start(t *testing.T, args ...string) (*logOf, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := logFile(t)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, log) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("the program did not stop")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return log, stop
}

func me() string {
	return fmt.Sprintf("uid=%d gid=%d pid=%d", os.Geteuid(), os.Getegid(), os.Getpid())
}

func TestOwnSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "http.sock")
	log, stop := start(t, "-socket", path, "-mode", "0600")
	testserver.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, "no socket: %s", log)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	status, body := get(t, path, false)
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello over HTTP/1.1, "+me()+"\n", body)
	status, body = get(t, path, true)
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello over HTTP/2.0, "+me()+"\n", body)

	require.NoError(t, stop())
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the program's own socket is removed")
	assert.Contains(t, log.String(), `how="own socket"`)
}

func TestPeerFilter(t *testing.T) {
	path := filepath.Join(shortDir(t), "http.sock")
	log, _ := start(t, "-socket", path, "-allow-uid", fmt.Sprint(os.Geteuid()+1))
	testserver.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, "no socket: %s", log)
	status, body := get(t, path, false)
	assert.Equal(t, 403, status)
	assert.Equal(t, "Forbidden\n", body)
	assert.Contains(t, log.String(), "peer not allowed (uid=")
}

func TestSecondInstanceRefused(t *testing.T) {
	path := filepath.Join(shortDir(t), "http.sock")
	log, _ := start(t, "-socket", path)
	testserver.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, "no socket: %s", log)
	err := run(context.Background(), []string{"-socket", path}, io.Discard)
	assert.ErrorContains(t, err, "windhover/unixsock: socket address in use: "+path+".lock is locked by another process")
}

func TestBadFlags(t *testing.T) {
	path := filepath.Join(shortDir(t), "http.sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-allow-uid", "root"}, `-allow-uid: "root" is not a numeric ID`},
		{[]string{"-allow-gid", "1,x"}, `-allow-gid: "x" is not a numeric ID`},
		{[]string{"-allow-uid", "-5"}, "windhover/unixsock: PeerConfig.UIDs[0] = -5 is not a user or group ID (0 to 4294967294)"},
		{[]string{"-mode", "01777"}, "windhover/unixsock: Config.Mode = 01777 has bits other than the permission bits 0777"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		err := run(context.Background(), append(tt.args, "-socket", path), io.Discard)
		assert.EqualError(t, err, tt.want)
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist, "%q made a socket", tt.args)
	}
}

// Started as systemd starts it: the socket passed as descriptor 4, named
// http, after another named metrics; LISTEN_PID set by a shell that then
// execs the program, which keeps the shell's process ID.
func TestSocketActivated(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "http.sock")
	httpLn, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	httpLn.SetUnlinkOnClose(false) // systemd's file
	defer httpLn.Close()
	other, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "metrics.sock"), Net: "unix"})
	require.NoError(t, err)
	defer other.Close()
	files := make([]*os.File, 2)
	for i, ln := range []*net.UnixListener{other, httpLn} {
		files[i], err = ln.File()
		require.NoError(t, err)
		defer files[i].Close()
	}

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" -socket "$1"`, exe, filepath.Join(dir, "unused.sock"))
	cmd.Env = append(os.Environ(), childEnv+"=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=metrics:http", "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = files
	log := logFile(t)
	cmd.Stderr = log
	p := testserver.StartProcess(t, cmd)

	testserver.Eventually(t, func() bool { return strings.Contains(log.String(), "listening") }, "not listening: %s", log)
	assert.Contains(t, log.String(), `addr=`+path+` how="socket activation"`)
	status, body := get(t, path, true)
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello over HTTP/2.0, "+me()+"\n", body)

	require.NoError(t, p.Stop(t, syscall.SIGTERM), "%s", log)
	_, err = os.Lstat(path)
	assert.NoError(t, err, "systemd's socket file is left in place")
	_, err = os.Lstat(filepath.Join(dir, "unused.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no socket of its own was made")
}
