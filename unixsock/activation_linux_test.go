//go:build linux

package unixsock

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
)

// activationReport is what the "activated" child prints, as one JSON line.
type activationReport struct {
	Err          string
	NotActivated bool
	Sockets      []socketReport
	Env          map[string]*string // the LISTEN_* variables after the call
	Second       string             // the error of a second call
	Leaked       string             // sockets and pipes a program it starts inherits
}

type socketReport struct {
	Name, Kind, Network, Addr string
	FD                        int
	CloseOnExec               bool
}

func init() {
	// The activated child: calls Activated($UNSET == "1"), reports, then
	// accepts one connection on each listener and answers it with the
	// listener's name.
	children["activated"] = func() int {
		ss, err := Activated(os.Getenv("UNSET") == "1")
		rep := activationReport{Env: map[string]*string{}}
		if err != nil {
			rep.Err, rep.NotActivated = err.Error(), errors.Is(err, ErrNotActivated)
		}
		for _, k := range []string{EnvListenPID, EnvListenFDs, EnvListenFDNames} {
			if v, ok := os.LookupEnv(k); ok {
				rep.Env[k] = &v
			}
		}
		for _, s := range ss {
			rep.Sockets = append(rep.Sockets, describe(s))
		}
		if _, err := Activated(false); err != nil {
			rep.Second = err.Error()
		}
		probe := exec.Command(os.Args[0])
		probe.Env = append(os.Environ(), childEnv+"=probe")
		out, err := probe.Output()
		if err != nil {
			rep.Leaked = err.Error()
		}
		rep.Leaked += strings.TrimSpace(string(out))
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			return 1
		}
		for _, ln := range ss.Listeners("") {
			if d, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
				_ = d.SetDeadline(time.Now().Add(10 * time.Second))
			}
			c, err := ln.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			for _, s := range ss {
				if s.Listener == ln {
					fmt.Fprintln(c, s.Name)
				}
			}
			c.Close()
		}
		if err := ss.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	// The probe: lists the sockets and pipes it inherited beyond
	// stdin, stdout and stderr.
	children["probe"] = func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		var leaked []string
		for _, e := range entries {
			if fd, _ := strconv.Atoi(e.Name()); fd < 3 {
				continue
			}
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, "pipe:") {
				leaked = append(leaked, e.Name()+"="+target)
			}
		}
		fmt.Println(strings.Join(leaked, " "))
		return 0
	}
}

func describe(s Socket) socketReport {
	r := socketReport{Name: s.Name, FD: s.FD}
	var sc syscall.Conn
	switch {
	case s.Listener != nil:
		r.Kind, r.Network, r.Addr = "listener", s.Listener.Addr().Network(), s.Listener.Addr().String()
		sc, _ = s.Listener.(syscall.Conn)
	case s.PacketConn != nil:
		r.Kind, r.Network, r.Addr = "packet", s.PacketConn.LocalAddr().Network(), s.PacketConn.LocalAddr().String()
		sc, _ = s.PacketConn.(syscall.Conn)
	case s.Conn != nil:
		r.Kind, r.Network = "conn", s.Conn.LocalAddr().Network()
		sc, _ = s.Conn.(syscall.Conn)
	case s.File != nil:
		r.Kind = "file"
		sc = s.File
	}
	if sc != nil {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFD, 0)
				r.CloseOnExec = errno == 0 && flags&syscall.FD_CLOEXEC != 0
			})
		}
	}
	return r
}

// activation is a child started with descriptors passed as systemd passes
// them.
type activation struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	report activationReport
}

// startActivated starts the "activated" child with files as descriptors 3,
// 4, ..., env added to a clean environment, and LISTEN_PID set to the
// child's own process ID unless env sets it: a shell exports it and execs
// the test binary, which keeps the shell's process ID, as systemd does.
// It returns once the child has reported.
func startActivated(t *testing.T, files []*os.File, env ...string) *activation {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	script := `LISTEN_PID=$$ exec "$0"`
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvListenPID+"=") {
			script = `exec "$0"`
		}
	}
	cmd := exec.Command("/bin/sh", "-c", script, exe)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") && !strings.HasPrefix(kv, childEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, childEnv+"=activated", noRaceExitSleep)
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	a := &activation{cmd: cmd, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := a.out.ReadBytes('\n')
	require.NoError(t, err, "the child's report")
	require.NoError(t, json.Unmarshal(line, &a.report), "%s", line)
	return a
}

// wait waits for the child to exit and fails the test if it failed.
func (a *activation) wait(t *testing.T) {
	t.Helper()
	rest, _ := io.ReadAll(a.out)
	require.NoError(t, a.cmd.Wait(), "%s", rest)
}

// fileOf returns a duplicate of the descriptor of a listener or connection.
func fileOf(t *testing.T, x interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := x.File()
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// probe returns the sockets and pipes a child of this process inherits,
// with files passed from 3 on.
func probe(t *testing.T, files ...*os.File) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=probe", noRaceExitSleep)
	cmd.ExtraFiles = files
	out, err := cmd.Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// The probe the activated child uses sees what a child inherits. What the
// environment the tests run in leaks to every process is the baseline.
func TestProbeSeesInheritedDescriptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	baseline := probe(t)
	assert.NotContains(t, baseline, "3=")
	assert.Regexp(t, `(^| )3=socket:\[\d+\]( |$)`, probe(t, fileOf(t, ln.(*net.TCPListener))))
}

func TestActivated(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "web.sock")
	unixLn, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	unixLn.SetUnlinkOnClose(false) // as systemd leaves it
	defer unixLn.Close()
	tcpLn, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer tcpLn.Close()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer udp.Close()
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	connected := os.NewFile(uintptr(pair[0]), "conn")
	defer connected.Close()
	defer syscall.Close(pair[1])
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	defer pw.Close()

	files := []*os.File{fileOf(t, unixLn), fileOf(t, tcpLn), fileOf(t, udp), connected, pr}
	a := startActivated(t, files,
		EnvListenFDs+"=5", EnvListenFDNames+"=web:api:dns:conn:fifo", "UNSET=1")
	for _, f := range files {
		f.Close() // the child holds them now
	}
	require.NoError(t, unixLn.Close())
	require.NoError(t, tcpLn.Close())

	rep := a.report
	require.Empty(t, rep.Err)
	assert.Equal(t, []socketReport{
		{Name: "web", FD: 3, Kind: "listener", Network: "unix", Addr: path, CloseOnExec: true},
		{Name: "api", FD: 4, Kind: "listener", Network: "tcp", Addr: tcpLn.Addr().String(), CloseOnExec: true},
		{Name: "dns", FD: 5, Kind: "packet", Network: "udp", Addr: udp.LocalAddr().String(), CloseOnExec: true},
		{Name: "conn", FD: 6, Kind: "conn", Network: "unix", CloseOnExec: true},
		{Name: "fifo", FD: 7, Kind: "file", CloseOnExec: true},
	}, rep.Sockets)
	assert.Empty(t, rep.Env, "the variables were unset")
	assert.Contains(t, rep.Second, "not started by socket activation (LISTEN_PID is not set)")
	assert.Equal(t, probe(t), rep.Leaked, "a program the child starts inherits none of the sockets")

	for _, ep := range []struct{ network, addr, name string }{
		{"unix", path, "web"},
		{"tcp", tcpLn.Addr().String(), "api"},
	} {
		c, err := net.DialTimeout(ep.network, ep.addr, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		require.NoError(t, err)
		assert.Equal(t, ep.name+"\n", line)
	}
	a.wait(t)
	fi, err := os.Lstat(path)
	require.NoError(t, err, "an inherited socket's file is never removed")
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
}

func TestActivatedKeepsEnvUnlessAsked(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer ln.Close()
	a := startActivated(t, []*os.File{fileOf(t, ln)}, EnvListenFDs+"=1")
	rep := a.report
	require.Empty(t, rep.Err)
	require.Len(t, rep.Sockets, 1)
	assert.Equal(t, "unknown", rep.Sockets[0].Name, "no LISTEN_FDNAMES")
	require.NotNil(t, rep.Env[EnvListenFDs])
	assert.Equal(t, "1", *rep.Env[EnvListenFDs])
	assert.Nil(t, rep.Env[EnvListenFDNames])
	assert.Equal(t, "windhover/unixsock: the activation sockets were already taken by an earlier call to Activated", rep.Second)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
	a.wait(t)
}

func TestActivatedNot(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer ln.Close()
	tests := []struct {
		name    string
		env     []string
		err     string
		notAct  bool
		envLeft bool
	}{
		{name: "no variables", env: []string{EnvListenPID + "="},
			err: "windhover/unixsock: not started by socket activation (LISTEN_PID is not set)", notAct: true, envLeft: true},
		{name: "another process's", env: []string{EnvListenPID + "=1", EnvListenFDs + "=1"},
			err: "windhover/unixsock: not started by socket activation (LISTEN_PID=1 is another process", notAct: true, envLeft: true},
		{name: "another process's, unset", env: []string{EnvListenPID + "=1", EnvListenFDs + "=1", "UNSET=1"},
			err: "windhover/unixsock: not started by socket activation (LISTEN_PID=1 is another process", notAct: true},
		{name: "more counted than passed", env: []string{EnvListenFDs + "=40", "UNSET=1"},
			err: "(unknown): bad file descriptor"}, // the first not open; the runtime may hold 4, 5, ...
		{name: "names mismatch", env: []string{EnvListenFDs + "=1", EnvListenFDNames + "=a:b"},
			err: "windhover/unixsock: LISTEN_FDNAMES names 2 descriptors, LISTEN_FDS=1", envLeft: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startActivated(t, []*os.File{fileOf(t, ln)}, tt.env...)
			rep := a.report
			assert.Contains(t, rep.Err, tt.err)
			assert.Equal(t, tt.notAct, rep.NotActivated)
			assert.Empty(t, rep.Sockets)
			assert.Equal(t, tt.envLeft, len(rep.Env) > 0, "%v", rep.Env)
			a.wait(t)
		})
	}
}
