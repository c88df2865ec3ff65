//go:build integration

package integration

import (
	"bufio"
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
	proc *testserver.Process
	urls []string
	logs *testserver.SyncBuffer
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
	cmd := exec.Command(serverBin, args...)
	logs := &testserver.SyncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{proc: testserver.StartProcess(t, cmd), logs: logs}
	// Registered after StartProcess's kill, so it runs first: a drain, and
	// the kill only for a server that ignores it.
	t.Cleanup(func() { s.stop(t) })
	lines := bufio.NewReader(stdout)
	ready := make(chan string, 1)
	go func() {
		line, _ := lines.ReadString('\n')
		ready <- line
		_, _ = lines.WriteTo(s.logs)
	}()
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
	if err := s.proc.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to d for the server to exit and returns its error.
func (s *server) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-s.proc.Done():
		return s.proc.Err()
	case <-time.After(d):
		t.Fatalf("the server did not exit within %v; logs:\n%s", d, s.logs)
		return nil
	}
}

// stop sends SIGTERM to the server, if it still runs, and waits for it to
// drain and exit.
func (s *server) stop(t testing.TB) {
	select {
	case <-s.proc.Done():
		return
	default:
	}
	_ = s.proc.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.proc.Done():
	case <-time.After(15 * time.Second):
		t.Errorf("the server ignored SIGTERM; logs:\n%s", s.logs)
	}
}

// openFDs counts the server process's open file descriptors.
func (s *server) openFDs(t testing.TB) int {
	t.Helper()
	n, err := s.countFDs()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countFDs counts the server process's open file descriptors; unlike
// openFDs, it may be called from any goroutine.
func (s *server) countFDs() (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.proc.Cmd.Process.Pid))
	return len(entries), err
}

// tlsServerArgs are the flags that serve TLS with a certificate from a fresh
// CA.
func tlsServerArgs(t testing.TB) []string {
	cert, key := testcert.NewCA(t, "windhover test CA").Server(t).Write(t, t.TempDir(), "server")
	return []string{"-tls-cert", cert, "-tls-key", key}
}

// freePort finds a TCP port free at this moment, for a program that must be
// told its port.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// curlHTTPS fetches https://host:port/path with curl, host resolved to
// 127.0.0.1 and trusted through the CA in caFile, with args added, and
// returns the status ("000" if the handshake failed), the body and curl's
// exit code.
func curlHTTPS(t testing.TB, caFile, host, port, path string, args ...string) (string, string, int) {
	t.Helper()
	args = append([]string{"-sS", "--cacert", caFile, "--resolve", host + ":" + port + ":127.0.0.1",
		"-w", "\n%{http_code}"}, args...)
	args = append(args, "https://"+host+":"+port+path)
	out, err := exec.Command(requirePeer(t, "curl"), args...).CombinedOutput()
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	i := strings.LastIndexByte(text, '\n')
	return text[i+1:], text[:max(i, 0)], exit
}
