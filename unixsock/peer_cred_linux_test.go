//go:build linux

package unixsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

type nextKey struct{}

// whoami answers with the peer credentials of the request and what the
// chained ConnContext saw.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	cred, ok := PeerCredFromContext(r.Context())
	if !ok {
		_, _ = io.WriteString(w, "no credentials")
		return
	}
	fmt.Fprintf(w, "%s next=%v", cred, r.Context().Value(nextKey{}))
})

// withConnContext installs ConnContext on a server, chained to a ConnContext
// that records whether it saw the credentials.
func withConnContext(s *http.Server) {
	s.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		_, ok := PeerCredFromContext(ctx)
		return context.WithValue(ctx, nextKey{}, ok)
	}
	s.ConnContext = ConnContext(s.ConnContext)
}

func me() string {
	return fmt.Sprintf("uid=%d gid=%d pid=%d", os.Geteuid(), os.Getegid(), os.Getpid())
}

func TestPeerCredOverEveryProtocol(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			checkNoLeaks(t)
			ln, err := Listen(socketPath(t), Config{})
			require.NoError(t, err)
			c, base := serve(t, ln, whoami, p, withConnContext)
			status, major, body := get(t, c, base+"/")
			assert.Equal(t, 200, status)
			assert.Equal(t, p != h1, major == 2)
			assert.Equal(t, me()+" next=true", body)
		})
	}
}

func TestConnContextWithoutNext(t *testing.T) {
	ln, err := Listen(socketPath(t), Config{})
	require.NoError(t, err)
	c, base := serve(t, ln, whoami, h2c, func(s *http.Server) { s.ConnContext = ConnContext(nil) })
	_, _, body := get(t, c, base+"/")
	assert.Equal(t, me()+" next=<nil>", body)
}

// Listener wrappers of every kind between the Unix listener and the server.
type (
	netConnConn struct{ net.Conn } // NetConn, like *tls.Conn and windhover's wrappers
	unwrapConn  struct{ net.Conn } // Unwrap() net.Conn
	embedConn   struct {           // embeds the *net.UnixConn: SyscallConn promoted
		*net.UnixConn
	}
	opaqueConn struct{ net.Conn } // hides what it wraps
	loopConn   struct{ net.Conn } // NetConn returns itself
)

func (c netConnConn) NetConn() net.Conn { return c.Conn }
func (c unwrapConn) Unwrap() net.Conn   { return c.Conn }
func (c *loopConn) NetConn() net.Conn   { return c }

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

func innermost(c net.Conn) *net.UnixConn {
	for {
		if x, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = x.NetConn()
			continue
		}
		return c.(*net.UnixConn)
	}
}

func TestPeerCredThroughWrappers(t *testing.T) {
	tests := []struct {
		name string
		wrap func(net.Conn) net.Conn
		ok   bool
	}{
		{"NetConn", func(c net.Conn) net.Conn { return netConnConn{c} }, true},
		{"Unwrap", func(c net.Conn) net.Conn { return unwrapConn{c} }, true},
		{"embedded", func(c net.Conn) net.Conn { return embedConn{innermost(c)} }, true},
		{"nested", func(c net.Conn) net.Conn { return netConnConn{unwrapConn{netConnConn{c}}} }, true},
		{"opaque", func(c net.Conn) net.Conn { return opaqueConn{c} }, false},
		{"self loop", func(c net.Conn) net.Conn { return &loopConn{c} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range allProtos {
				ln, err := Listen(socketPath(t), Config{})
				require.NoError(t, err)
				c, base := serve(t, wrapListener{ln, tt.wrap}, whoami, p, withConnContext)
				_, _, body := get(t, c, base+"/")
				if tt.ok {
					assert.Equal(t, me()+" next=true", body, "%s", p)
				} else {
					assert.Equal(t, "no credentials", body, "%s", p)
				}
			}
		})
	}
}

func TestPeerCredFromConnWithoutCredentials(t *testing.T) {
	s := testserver.Start(t, whoami, testserver.H1, func(ts *httptest.Server) {
		ts.Config.ConnContext = ConnContext(nil)
	})
	status, body := s.Get(t, "/", nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, "no credentials", body, "a TCP connection has none")

	c := testserver.Dial(t, s.Addr())
	_, err := PeerCredFromConn(c.Conn)
	assert.ErrorIs(t, err, ErrNoPeerCred)
	assert.ErrorContains(t, err, "*net.TCPConn")
	_, err = PeerCredFromConn(opaqueConn{c.Conn})
	assert.ErrorIs(t, err, ErrNoPeerCred)

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err = PeerCredFromConn(a)
	assert.ErrorIs(t, err, ErrNoPeerCred)
}

// A socketpair's peer is this very process.
func TestPeerCredOfSocketpair(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	f := os.NewFile(uintptr(fds[0]), "a")
	defer f.Close()
	defer syscall.Close(fds[1])
	c, err := net.FileConn(f)
	require.NoError(t, err)
	defer c.Close()
	cred, err := PeerCredFromConn(c)
	require.NoError(t, err)
	assert.Equal(t, PeerCred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}, cred)
}

// publicDir returns a new directory with a short path and mode perm.
func publicDir(t *testing.T, perm os.FileMode) string {
	t.Helper()
	dir := shortDir(t)
	require.NoError(t, os.Chmod(dir, perm))
	return dir
}

// nobody runs the test binary as user and group 65534, each run playing a
// mode with env added. It needs root. The binary is copied where that user
// may run it.
type nobody struct{ bin string }

func asNobody(t *testing.T) nobody {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("acting as another user needs root")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(publicDir(t, 0o755), "unixsock.test")
	src, err := os.ReadFile(exe)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, src, 0o755))
	return nobody{bin}
}

// run runs the binary playing mode and returns its output.
func (n nobody) run(t *testing.T, mode string, env ...string) string {
	t.Helper()
	cmd := exec.Command(n.bin)
	cmd.Env = append([]string{childEnv + "=" + mode, "PATH=/usr/bin:/bin", noRaceExitSleep}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

func init() {
	// The client child: GET / over the Unix socket $SOCKET speaking each
	// protocol of $PROTOS, printing "<status> <body>" a line each.
	children["client"] = func() int {
		for _, p := range strings.Fields(os.Getenv("PROTOS")) {
			tr := &http.Transport{Protocols: new(http.Protocols)}
			tr.Protocols.SetHTTP1(p == "h1")
			tr.Protocols.SetUnencryptedHTTP2(p == "h2c")
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", os.Getenv("SOCKET"))
			}
			res, err := (&http.Client{Transport: tr}).Get("http://unix/")
			if err != nil {
				fmt.Println(err)
				return 1
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			fmt.Printf("%s %d %s\n", res.Proto, res.StatusCode, strings.TrimSpace(string(body)))
		}
		return 0
	}
	// The listen child: Listen on $SOCKET, print the error.
	children["listen"] = func() int {
		ln, err := Listen(os.Getenv("SOCKET"), Config{})
		if err == nil {
			ln.Close()
		}
		fmt.Println(err, errors.Is(err, ErrInUse), errors.Is(err, ErrNotSocket))
		return 0
	}
}

// A client of another user: its credentials are its own, and a PeerFilter
// admits or refuses it by them.
func TestPeerCredOfAnotherUser(t *testing.T) {
	other := asNobody(t)
	dir := publicDir(t, 0o755)
	var mu sync.Mutex
	var rejected []error
	for _, tt := range []struct {
		name string
		cfg  PeerConfig
		want string
	}{
		{"refused", PeerConfig{UIDs: []int{0}}, "HTTP/1.1 403 Forbidden\nHTTP/2.0 403 Forbidden"},
		{"admitted by group", PeerConfig{UIDs: []int{0}, GIDs: []int{65534}}, "HTTP/1.1 200 uid=65534 gid=65534 pid=PID next=true\n" +
			"HTTP/2.0 200 uid=65534 gid=65534 pid=PID next=true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".sock")
			ln, err := Listen(path, Config{Mode: 0o666})
			require.NoError(t, err)
			tt.cfg.OnReject = func(r *http.Request, err error) {
				mu.Lock()
				defer mu.Unlock()
				rejected = append(rejected, err)
			}
			filter, err := NewPeerFilter(tt.cfg)
			require.NoError(t, err)
			var pid atomic.Int64
			_, _ = serve(t, ln, filter.Handler(whoami), h2c, withConnContext, func(s *http.Server) {
				next := s.ConnContext
				s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
					cred, _ := PeerCredFromConn(c)
					pid.Store(int64(cred.PID))
					return next(ctx, c)
				}
			})
			out := other.run(t, "client", "SOCKET="+path, "PROTOS=h1 h2c")
			assert.Equal(t, strings.ReplaceAll(tt.want, "PID", strconv.FormatInt(pid.Load(), 10)), out)
		})
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, rejected, 2)
	var pe *PeerError
	require.ErrorAs(t, rejected[0], &pe)
	assert.Equal(t, ReasonPeerNotAllowed, pe.Reason)
	assert.Equal(t, 65534, pe.Cred.UID)
	assert.Equal(t, 65534, pe.Cred.GID)
	assert.NotZero(t, pe.Cred.PID)
	assert.NotEqual(t, os.Getpid(), pe.Cred.PID)
}

// A process that may not connect to a socket cannot tell whether it is
// stale, so it leaves it. The directory is /tmp's kind, writable by all
// but sticky: without the sticky bit Listen would refuse it first.
func TestListenCannotTellWithoutPermission(t *testing.T) {
	path := filepath.Join(publicDir(t, 0o777|os.ModeSticky), "s.sock")
	staleSocket(t, path)
	require.NoError(t, os.Chmod(path, 0o600))
	before := statOf(t, path)
	out := asNobody(t).run(t, "listen", "SOCKET="+path)
	assert.Equal(t, "windhover/unixsock: cannot tell whether "+path+" is in use: dial unix "+path+": connect: permission denied false false", out)
	assert.Equal(t, before.Ino, statOf(t, path).Ino)
}
