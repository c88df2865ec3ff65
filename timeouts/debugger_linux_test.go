//go:build linux

package timeouts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes TestDebuggerChildServer serve: "stand down" for the
// default Config, "enforce" for EnforceWhenDebugged.
const childEnv = "WINDHOVER_TIMEOUTS_DEBUGGER_CHILD"

// TestDebuggerChildServer is the server that TestDebuggerRuleWithTracer
// starts in a process of its own, for strace to attach to: the Listener's
// timers and the request body rate, each 300 ms. It prints its address and
// serves until its standard input closes.
func TestDebuggerChildServer(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("the server of TestDebuggerRuleWithTracer")
	}
	pol, err := New(Config{
		KeepAliveTimeout:       300 * time.Millisecond,
		RequestHeadersTimeout:  300 * time.Millisecond,
		MinRequestBodyDataRate: Rate{BytesPerSecond: 1000, GracePeriod: 300 * time.Millisecond},
		EnforceWhenDebugged:    mode == "enforce",
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: pol.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the policy answers 408
		}
		_, _ = io.WriteString(w, "done\n")
	}))}
	require.NoError(t, pol.Apply(srv))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(pol.Listener(ln)) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// startChild starts the test binary as the server of mode and returns its
// process and address.
func startChild(t *testing.T, mode string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDebuggerChildServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return cmd, addr
		}
	}
	t.Fatalf("the child server printed no address: %v", sc.Err())
	return nil, ""
}

// tracerOf returns the TracerPid of process pid.
func tracerOf(t *testing.T, pid int) string {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// attach runs strace on pid, following every thread, until detach is
// called, and waits until the kernel shows pid traced.
func attach(t *testing.T, pid int) (detach func()) {
	t.Helper()
	path, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	cmd := exec.Command(path, "-f", "-p", fmt.Sprint(pid), "-o", "/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	detach = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // strace detaches and exits
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(detach)
	deadline := time.Now().Add(10 * time.Second)
	for tracerOf(t, pid) == "0" {
		select {
		case <-done:
			t.Skipf("strace could not attach (ptrace not permitted here?): %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Skipf("strace did not attach within 10 s: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return detach
}

// slowClients opens the three clients a Kestrel timer or rate cuts: one
// that sends nothing (KeepAliveTimeout), one that stops in the middle of
// its head (RequestHeadersTimeout), one that stops in the middle of its
// body (MinRequestBodyDataRate).
func slowClients(t *testing.T, addr string) map[string]net.Conn {
	t.Helper()
	sends := map[string]string{
		"keep-alive": "",
		"headers":    "GET / HTTP/1.1\r\nHost: x\r\n",
		"body":       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789",
	}
	conns := map[string]net.Conn{}
	for name, send := range sends {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, send)
		require.NoError(t, err)
		conns[name] = c
	}
	return conns
}

// outcome reads what the server did to c within wait: "open" if it did
// nothing, "closed" if it closed without an answer, or the status line of
// its answer.
func outcome(c net.Conn, wait time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	switch {
	case line != "":
		return strings.TrimSpace(line)
	case errors.As(err, &ne) && ne.Timeout():
		return "open"
	}
	return "closed"
}

// While strace is attached to the server, its slow clients are not cut;
// once strace detaches, they are, each as its timer or rate says. With
// EnforceWhenDebugged they are cut while strace is attached.
func TestDebuggerRuleWithTracer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process and strace")
	}
	want := map[string]string{"keep-alive": "closed", "headers": "HTTP/1.1 408 Request Timeout", "body": "HTTP/1.1 408 Request Timeout"}
	t.Run("stand down", func(t *testing.T) {
		cmd, addr := startChild(t, "stand down")
		detach := attach(t, cmd.Process.Pid)
		conns := slowClients(t, addr)
		// Well past each 300 ms, and past a second look at the tracer.
		time.Sleep(2500 * time.Millisecond)
		for name, c := range conns {
			assert.Equal(t, "open", outcome(c, 100*time.Millisecond), "%s: not cut while traced", name)
		}
		detach()
		assert.Equal(t, "0", tracerOf(t, cmd.Process.Pid), "strace detached")
		for name, c := range conns {
			assert.Equal(t, want[name], outcome(c, 10*time.Second), "%s: cut once strace is gone", name)
		}
	})
	t.Run("enforce", func(t *testing.T) {
		cmd, addr := startChild(t, "enforce")
		attach(t, cmd.Process.Pid)
		conns := slowClients(t, addr)
		for name, c := range conns {
			assert.Equal(t, want[name], outcome(c, 10*time.Second), "%s: cut while traced", name)
		}
	})
}
