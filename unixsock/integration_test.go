//go:build integration && linux

package unixsock

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

const socketActivate = "/usr/bin/systemd-socket-activate"

func init() {
	// The serve child: serves HTTP on every activated listener, answering
	// with the listener's name and the peer's credentials, until SIGTERM.
	children["serve"] = func() int {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		ss, err := Activated(true)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var wg sync.WaitGroup
		var servers []*http.Server
		for _, s := range ss {
			if s.Listener == nil {
				continue
			}
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					peer := "none"
					if cred, ok := PeerCredFromContext(r.Context()); ok {
						peer = cred.String()
					}
					fmt.Fprintf(w, "%s %s %s env=%q", s.Name, r.Proto, peer, os.Getenv(EnvListenFDs))
				}),
				ConnContext: ConnContext(nil),
				Protocols:   new(http.Protocols),
			}
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
			servers = append(servers, srv)
			wg.Go(func() { _ = srv.Serve(s.Listener) })
		}
		<-ctx.Done()
		for _, srv := range servers {
			_ = srv.Shutdown(context.Background())
		}
		wg.Wait()
		return 0
	}
}

// fileLog is a log file whose String is its contents at the time.
type fileLog string

func (f fileLog) String() string {
	b, _ := os.ReadFile(string(f))
	return string(b)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func client(network, addr string, h2c bool) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(!h2c)
	tr.Protocols.SetUnencryptedHTTP2(h2c)
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// A server started by systemd-socket-activate with a Unix socket and a TCP
// port, each named, serves on both, sees its clients' credentials on the
// Unix one, and leaves systemd's socket file alone when it exits.
func TestSystemdSocketActivate(t *testing.T) {
	if _, err := os.Stat(socketActivate); err != nil {
		t.Fatal("systemd-socket-activate is not installed (Debian package systemd; .ci/run installs it)")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	path := filepath.Join(shortDir(t), "app.sock")
	tcpAddr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(socketActivate, "-l", path, "-l", tcpAddr, "--fdname=app:metrics",
		"-E", childEnv+"=serve", "-E", noRaceExitSleep, exe)
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()
	cmd.Stderr = stderr
	logs := fileLog(stderr.Name())
	server := testserver.StartProcess(t, cmd)
	// bind(2) makes the file before listen(2) lets clients in.
	testserver.Eventually(t, func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "systemd-socket-activate does not listen: %s", logs)

	me := fmt.Sprintf("uid=%d gid=%d pid=%d", os.Geteuid(), os.Getegid(), os.Getpid())
	for _, tt := range []struct {
		network, addr string
		h2c           bool
		want          string
	}{
		{"unix", path, false, "app HTTP/1.1 " + me + ` env=""`},
		{"unix", path, true, "app HTTP/2.0 " + me + ` env=""`},
		{"tcp", tcpAddr, false, `metrics HTTP/1.1 none env=""`},
		{"tcp", tcpAddr, true, `metrics HTTP/2.0 none env=""`},
	} {
		c := client(tt.network, tt.addr, tt.h2c)
		res, err := c.Get("http://app/")
		require.NoError(t, err, "%s", logs)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, tt.want, string(body))
		c.CloseIdleConnections()
	}

	require.NoError(t, server.Stop(t, syscall.SIGTERM), "%s", logs)
	fi, err := os.Lstat(path)
	require.NoError(t, err, "the inherited socket's file is systemd's: left in place")
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())

	// And a server that listens itself finds it stale and takes the path.
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), ln.Stats().StaleRemoved)
	require.NoError(t, ln.Close())
}
