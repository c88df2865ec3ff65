//go:build integration

package integration

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
)

// serverBin is the example server, built once for the whole suite.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "windhover-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", serverBin, "../examples/server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building examples/server:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requirePeer returns the path of a program the test needs, failing the
// test if it is not installed: CI installs every peer, and a missing one
// must not pass as a skip.
func requirePeer(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
	}
	return path
}

// server is a running example server.
type server struct {
	cmd  *exec.Cmd
	urls []string
	logs *testserver.SyncBuffer
	done chan error
}

// startServer runs the example server with args (and -addr 127.0.0.1:0
// unless args set -addr) and waits for its ready line. The server is
// stopped with SIGTERM when the test ends, if it still runs.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	hasAddr := false
	for _, a := range args {
		hasAddr = hasAddr || a == "-addr" || strings.HasPrefix(a, "-addr=")
	}
	if !hasAddr {
		args = append([]string{"-addr", "127.0.0.1:0"}, args...)
	}
	s := &server{cmd: exec.Command(serverBin, args...), logs: &testserver.SyncBuffer{}, done: make(chan error, 1)}
	s.cmd.Stderr = s.logs
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	ready := make(chan string, 1)
	go func() {
		line, _ := lines.ReadString('\n')
		ready <- line
		_, _ = lines.WriteTo(s.logs)
	}()
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case line := <-ready:
		const prefix = "windhover example server listening on "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("no ready line; got %q; logs:\n%s", line, s.logs)
		}
		s.urls = strings.Fields(strings.TrimPrefix(line, prefix))
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not start; logs:\n%s", s.logs)
	}
	return s
}

// url is the server's first URL, such as "http://127.0.0.1:41234".
func (s *server) url() string { return s.urls[0] }

// hostPort is the TCP address of the server's first URL.
func (s *server) hostPort() string {
	_, hp, _ := strings.Cut(s.url(), "://")
	return hp
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.hostPort())
	return p
}

// signal sends sig to the server.
func (s *server) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to d for the server to exit and returns its error.
func (s *server) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("the server did not exit within %v; logs:\n%s", d, s.logs)
		return nil
	}
}

func (s *server) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("the server ignored SIGTERM; logs:\n%s", s.logs)
	}
}

// openFDs counts the server process's open file descriptors.
func (s *server) openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// tlsServerArgs are the flags that serve TLS with a certificate from a fresh
// CA, and a client configuration that trusts it.
func tlsServerArgs(t testing.TB) ([]string, *tls.Config) {
	ca := testcert.NewCA(t, "windhover test CA")
	cert, key := ca.Server(t).Write(t, t.TempDir(), "server")
	return []string{"-tls-cert", cert, "-tls-key", key}, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2"}}
}
