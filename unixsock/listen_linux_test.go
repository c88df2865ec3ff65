//go:build linux

package unixsock

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello "+r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
})

func TestListenServesOverEveryProtocol(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			checkNoLeaks(t)
			path := socketPath(t)
			ln, err := Listen(path, Config{})
			require.NoError(t, err)
			assert.Equal(t, "unix", ln.Addr().Network())
			assert.Equal(t, path, ln.Addr().String())

			var conns atomic.Int64
			c, base := serve(t, ln, hello, p, func(s *http.Server) {
				s.ConnState = func(_ net.Conn, cs http.ConnState) {
					if cs == http.StateNew {
						conns.Add(1)
					}
				}
			})
			for range 3 {
				status, major, body := get(t, c, base+"/")
				assert.Equal(t, 200, status)
				assert.Equal(t, p != h1, major == 2)
				assert.Equal(t, "hello "+path, body, "connections report the socket's path, not the private one")
			}
			assert.Equal(t, uint64(conns.Load()), ln.Stats().Accepted)
			assert.NotZero(t, conns.Load())
			assert.Zero(t, ln.Stats().StaleRemoved)
		})
	}
}

func TestListenModeAndOwner(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name       string
		cfg        Config
		mode       uint32
		uid, gid   int
		needsRoot  bool
		wantErrSub string
	}{
		{name: "default", cfg: Config{}, mode: 0o660, uid: os.Geteuid(), gid: os.Getegid()},
		{name: "owner only", cfg: Config{Mode: 0o600}, mode: 0o600, uid: os.Geteuid(), gid: os.Getegid()},
		{name: "world", cfg: Config{Mode: 0o666}, mode: 0o666, uid: os.Geteuid(), gid: os.Getegid()},
		{name: "minus one leaves owner", cfg: Config{UID: new(-1), GID: new(-1)}, mode: 0o660, uid: os.Geteuid(), gid: os.Getegid()},
		{name: "group given", cfg: Config{Mode: 0o660, GID: new(65534)}, mode: 0o660, uid: os.Geteuid(), gid: 65534, needsRoot: true},
		{name: "given away", cfg: Config{Mode: 0o600, UID: new(65534), GID: new(65534)}, mode: 0o600, uid: 65534, gid: 65534, needsRoot: true},
		{name: "user only", cfg: Config{Mode: 0o640, UID: new(1234)}, mode: 0o640, uid: 1234, gid: os.Getegid(), needsRoot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsRoot && !root {
				t.Skip("chown to another user needs root")
			}
			path := socketPath(t)
			ln, err := Listen(path, tt.cfg)
			require.NoError(t, err)
			defer ln.Close()
			st := statOf(t, path)
			assert.Equal(t, uint32(syscall.S_IFSOCK), st.Mode&syscall.S_IFMT)
			assert.Equal(t, fmt.Sprintf("%#o", tt.mode), fmt.Sprintf("%#o", st.Mode&0o7777))
			assert.Equal(t, tt.uid, int(st.Uid))
			assert.Equal(t, tt.gid, int(st.Gid))
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			require.Len(t, entries, 1, "the private directory is gone")
		})
	}
}

// The socket is reachable at its path only once it has its final mode and
// owner: at bind time nothing is at the path and the private directory is
// closed to everyone else.
func TestListenNoPermissiveMoment(t *testing.T) {
	path := socketPath(t)
	var checked bool
	testHookBound = func(private string) {
		checked = true
		_, err := os.Lstat(path)
		assert.ErrorIs(t, err, fs.ErrNotExist, "nothing at the path while the mode is not set")
		dir := statOf(t, filepath.Dir(private))
		assert.Equal(t, fmt.Sprintf("%#o", 0o700), fmt.Sprintf("%#o", dir.Mode&0o7777), "private directory mode")
		assert.Equal(t, os.Geteuid(), int(dir.Uid))
		assert.Equal(t, filepath.Dir(path), filepath.Dir(filepath.Dir(private)), "private directory beside the path")
		assert.Regexp(t, `/\.sock-[0-9a-f]{8}/s$`, private)
	}
	t.Cleanup(func() { testHookBound = nil })
	ln, err := Listen(path, Config{Mode: 0o600})
	require.NoError(t, err)
	require.True(t, checked)
	testHookBound = nil
	require.NoError(t, ln.Close())

	// And from outside: a watcher that stats the path as fast as it can
	// never sees another mode while listeners come and go. It must be
	// running before they start, and must see some, or it proves nothing.
	stop, watching := make(chan struct{}), make(chan struct{})
	var seen sync.Map
	var hits atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		close(watching)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var st syscall.Stat_t
			if syscall.Lstat(path, &st) == nil {
				hits.Add(1)
				seen.Store(st.Mode&0o7777, true)
			}
		}
	})
	<-watching
	for range 200 {
		ln, err := Listen(path, Config{Mode: 0o600})
		require.NoError(t, err)
		require.NoError(t, ln.Close())
	}
	close(stop)
	wg.Wait()
	assert.NotZero(t, hits.Load(), "the watcher never saw a socket at the path")
	seen.Range(func(k, _ any) bool {
		assert.Equal(t, uint32(0o600), k, "mode seen at the path")
		return true
	})
}

func TestListenRemovesStaleSocket(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	staleSocket(t, path)
	before := statOf(t, path)

	ln, err := Listen(path, Config{Mode: 0o600})
	require.NoError(t, err)
	after := statOf(t, path)
	assert.NotEqual(t, before.Ino, after.Ino, "a new socket replaced the stale one")
	assert.Equal(t, uint32(0o600), after.Mode&0o7777)
	assert.Equal(t, uint64(1), ln.Stats().StaleRemoved)

	c, base := serve(t, ln, hello, h1)
	status, _, _ := get(t, c, base+"/")
	assert.Equal(t, 200, status)
}

func TestListenLeavesLiveSocket(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	live, err := Listen(path, Config{})
	require.NoError(t, err)
	c, base := serve(t, live, hello, h1)
	before := statOf(t, path)

	ln, err := Listen(path, Config{})
	require.ErrorIs(t, err, ErrInUse)
	assert.Nil(t, ln)
	assert.Contains(t, err.Error(), "a server answers at "+path)
	after := statOf(t, path)
	assert.Equal(t, before.Ino, after.Ino, "the live socket was left alone")
	status, _, _ := get(t, c, base+"/")
	assert.Equal(t, 200, status, "and still serves")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no private directory left")
}

// A listener whose backlog is full refuses with EAGAIN: busy, not stale.
func TestListenLeavesBusySocket(t *testing.T) {
	path := socketPath(t)
	live, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	defer live.Close()
	// Fill the backlog: nobody accepts.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 10000 {
		c, err := net.DialTimeout("unix", path, 5*time.Second)
		if err != nil {
			require.ErrorIs(t, err, syscall.EAGAIN)
			break
		}
		conns = append(conns, c)
	}
	_, err = Listen(path, Config{})
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "full backlog")
	_, err = os.Lstat(path)
	assert.NoError(t, err)
}

func TestListenRefusesNonSocket(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		kind string
	}{
		{"regular file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("precious"), 0o644))
		}, "regular file"},
		{"directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(path, "f"), []byte("precious"), 0o644))
		}, "directory"},
		{"symlink to a stale socket", func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target.sock")
			staleSocket(t, target)
			require.NoError(t, os.Symlink(target, path))
		}, "symbolic link"},
		{"dangling symlink", func(t *testing.T, path string) {
			require.NoError(t, os.Symlink("/nonexistent/x", path))
		}, "symbolic link"},
		{"named pipe", func(t *testing.T, path string) {
			require.NoError(t, syscall.Mkfifo(path, 0o600))
		}, "named pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeaks(t)
			path := socketPath(t)
			tt.make(t, path)
			before := statOf(t, path)
			for _, cfg := range []Config{{}, {Lock: true}} {
				ln, err := Listen(path, cfg)
				require.ErrorIs(t, err, ErrNotSocket)
				assert.Nil(t, ln)
				assert.Contains(t, err.Error(), path+" is a "+tt.kind)
				after := statOf(t, path)
				assert.Equal(t, before.Ino, after.Ino, "never removed")
			}
			if tt.name == "regular file" {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, "precious", string(b))
			}
		})
	}
}

// A stale socket replaced by another instance's live one between the dial
// and the removal is left alone.
func TestListenStaleReplacedWhileChecked(t *testing.T) {
	path := socketPath(t)
	staleSocket(t, path)
	before := statOf(t, path)
	// Keep the stale socket's inode alive under another name, so that the
	// new socket cannot reuse its number: with the number reused, nothing
	// in a stat tells the two apart, the window Config.Lock closes.
	require.NoError(t, os.Link(path, filepath.Join(filepath.Dir(path), "kept.sock")))
	var once sync.Once
	var live *net.UnixListener
	testHookStale = func() {
		once.Do(func() {
			// Another instance replaces the stale socket with its own.
			require.NoError(t, os.Remove(path))
			var err error
			live, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			require.NoError(t, err)
		})
	}
	t.Cleanup(func() { testHookStale = nil })
	_, err := Listen(path, Config{})
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "was replaced while it was checked")
	require.NotNil(t, live)
	defer live.Close()
	after := statOf(t, path)
	assert.NotEqual(t, before.Ino, after.Ino)
	c, err := net.Dial("unix", path)
	require.NoError(t, err, "the other instance's socket is still there")
	c.Close()
}

// Another process creating a file at the path while Listen works: link(2)
// fails rather than replace it.
func TestListenNeverReplacesAFileThatAppears(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	testHookBound = func(string) {
		require.NoError(t, os.WriteFile(path, []byte("theirs"), 0o600))
	}
	t.Cleanup(func() { testHookBound = nil })
	ln, err := Listen(path, Config{})
	require.ErrorIs(t, err, ErrInUse)
	assert.Nil(t, ln)
	assert.Contains(t, err.Error(), "a file appeared at "+path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(b))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no private directory left")
}

func TestListenErrors(t *testing.T) {
	checkNoLeaks(t)
	dir := shortDir(t)
	_, err := Listen("", Config{})
	assert.EqualError(t, err, "windhover/unixsock: empty socket path")

	_, err = Listen(filepath.Join(dir, "missing", "s.sock"), Config{})
	assert.ErrorIs(t, err, fs.ErrNotExist, "the directory is not created")

	_, err = Listen(dir+"/s.sock/", Config{})
	assert.EqualError(t, err, "windhover/unixsock: socket path "+dir+"/s.sock/ ends in a slash")

	long := filepath.Join(dir, strings.Repeat("x", 106-len(dir)))
	_, err = Listen(long+"x", Config{})
	assert.EqualError(t, err, fmt.Sprintf("windhover/unixsock: socket path %sx is 108 bytes, over the limit of 107", long))
	_, err = Listen("@"+strings.Repeat("x", 108), Config{})
	assert.ErrorContains(t, err, "is 109 bytes, over the limit of 107")

	// A path that fits, in a directory whose private directory's path
	// would not.
	deep := filepath.Join(dir, strings.Repeat("d", 90-len(dir))) // 91 bytes
	require.NoError(t, os.Mkdir(deep, 0o755))
	_, err = Listen(filepath.Join(deep, "s"), Config{})
	assert.EqualError(t, err, "windhover/unixsock: socket directory "+deep+" is 91 bytes, over the limit of 90 that leaves room for the private directory Listen binds in")
	entries, err := os.ReadDir(deep)
	require.NoError(t, err)
	assert.Empty(t, entries)
	deep = deep[:len(deep)-1] // 90 bytes
	require.NoError(t, os.Mkdir(deep, 0o755))
	ln, err := Listen(filepath.Join(deep, strings.Repeat("s", 107-91)), Config{})
	require.NoError(t, err, "the longest directory, and the longest name in it")
	require.NoError(t, ln.Close())
	ln, err = Listen("@"+strings.Repeat("x", 107), Config{})
	require.NoError(t, err, "an abstract name may fill sun_path")
	require.NoError(t, ln.Close())
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		path string
		cfg  Config
		want string
	}{
		{"x.sock", Config{Mode: fs.ModeSetuid | 0o660}, "windhover/unixsock: Config.Mode = 040000660 has bits other than the permission bits 0777"},
		{"x.sock", Config{Mode: 0o1660}, "windhover/unixsock: Config.Mode = 01660 has bits other than the permission bits 0777"},
		{"x.sock", Config{UID: new(-2)}, "windhover/unixsock: Config.UID = -2 must be -1 (unchanged) or an ID from 0 to 4294967294"},
		{"@x", Config{Mode: 0o600}, "windhover/unixsock: Config.Mode = 0600 cannot apply to an abstract socket, which has no file (check peer credentials instead)"},
		{"@x", Config{UID: new(0)}, "windhover/unixsock: Config.UID = 0 cannot apply to an abstract socket, which has no file (check peer credentials instead)"},
		{"@x", Config{GID: new(5)}, "windhover/unixsock: Config.GID = 5 cannot apply to an abstract socket, which has no file (check peer credentials instead)"},
		{"@x", Config{Lock: true}, "windhover/unixsock: Config.Lock = true cannot apply to an abstract socket, which has no file (check peer credentials instead)"},
	}
	if strconv.IntSize == 64 {
		tests = append(tests, []struct {
			path string
			cfg  Config
			want string
		}{
			{"x.sock", Config{GID: new(wideInt(1 << 32))}, "windhover/unixsock: Config.GID = 4294967296 must be -1 (unchanged) or an ID from 0 to 4294967294"},
			{"x.sock", Config{GID: new(wideInt(1<<32 - 1))}, "windhover/unixsock: Config.GID = 4294967295 must be -1 (unchanged) or an ID from 0 to 4294967294"},
		}...)
	}
	for _, tt := range tests {
		ln, err := Listen(tt.path, tt.cfg)
		assert.Nil(t, ln)
		assert.EqualError(t, err, tt.want)
	}
	_, err := os.Lstat("x.sock")
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing made on a configuration error")
}

func TestLockContention(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	first, err := Listen(path, Config{Lock: true})
	require.NoError(t, err)

	second, err := Listen(path, Config{Lock: true})
	require.ErrorIs(t, err, ErrInUse)
	assert.Nil(t, second)
	assert.Contains(t, err.Error(), path+".lock is locked by another process")

	// Even with the first one's socket gone stale (it crashed without
	// cleaning up, say, but still holds the lock), the second leaves it.
	require.NoError(t, first.Unwrap().Close())
	_, err = Listen(path, Config{Lock: true})
	require.ErrorIs(t, err, ErrInUse)
	_, err = os.Lstat(path)
	require.NoError(t, err)

	require.NoError(t, first.Close())
	lock, err := os.Stat(path + ".lock")
	require.NoError(t, err, "the lock file stays")
	assert.Equal(t, fs.FileMode(0o600), lock.Mode().Perm())

	second, err = Listen(path, Config{Lock: true})
	require.NoError(t, err, "the lock is free once the first closed")
	require.NoError(t, second.Close())
}

// Two instances starting at the same moment over a stale socket: exactly
// one wins, the other gets ErrInUse, and the winner's socket is at the path.
func TestLockRace(t *testing.T) {
	for range 20 {
		path := socketPath(t)
		staleSocket(t, path)
		var wg sync.WaitGroup
		lns := make([]*Listener, 4)
		errs := make([]error, 4)
		for i := range lns {
			wg.Go(func() { lns[i], errs[i] = Listen(path, Config{Lock: true}) })
		}
		wg.Wait()
		var winner *Listener
		for i, err := range errs {
			if err == nil {
				require.Nil(t, winner, "two winners")
				winner = lns[i]
			} else {
				require.ErrorIs(t, err, ErrInUse)
			}
		}
		require.NotNil(t, winner)
		c, err := net.Dial("unix", path)
		require.NoError(t, err)
		go func() {
			if c, err := winner.Accept(); err == nil {
				c.Close()
			}
		}()
		c.Close()
		require.NoError(t, winner.Close())
	}
}

// A failed Listen releases the lock it took.
func TestLockReleasedOnFailure(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := Listen(path, Config{Lock: true})
	require.ErrorIs(t, err, ErrNotSocket)

	f, err := os.Open(path + ".lock")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "the lock is free")
}

// A lock file removed by someone while the first instance holds it does not
// let a second instance run beside it: the socket check still finds the
// first one serving.
func TestLockFileRemovedMeanwhile(t *testing.T) {
	path := socketPath(t)
	first, err := Listen(path, Config{Lock: true})
	require.NoError(t, err)
	defer first.Close()
	go func() {
		for {
			c, err := first.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	require.NoError(t, os.Remove(path+".lock"))
	_, err = Listen(path, Config{Lock: true})
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "a server answers")
}

func TestCloseRemovesOwnSocket(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NoError(t, ln.Close(), "Close is idempotent")
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestCloseLeavesWhatReplacedTheSocket(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, path string)
	}{
		{"another process's socket", func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path))
			staleSocket(t, path)
		}, // a socket at the same path, another inode
		},
		{"a regular file", func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
		}},
		{"renamed over", func(t *testing.T, path string) {
			other := filepath.Join(filepath.Dir(path), "other.sock")
			staleSocket(t, other)
			require.NoError(t, os.Rename(other, path))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeaks(t)
			path := socketPath(t)
			ln, err := Listen(path, Config{})
			require.NoError(t, err)
			tt.replace(t, path)
			before := statOf(t, path)
			require.NoError(t, ln.Close())
			after := statOf(t, path)
			assert.Equal(t, before.Ino, after.Ino, "left in place")
		})
	}
	t.Run("removed", func(t *testing.T) {
		path := socketPath(t)
		ln, err := Listen(path, Config{})
		require.NoError(t, err)
		require.NoError(t, os.Remove(path))
		assert.NoError(t, ln.Close())
	})
}

// A hard link to the socket file is the same file: the listener made it,
// so Close removes the path it listened on and only that.
func TestCloseRemovesOnlyItsPath(t *testing.T) {
	path := socketPath(t)
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	alias := filepath.Join(filepath.Dir(path), "alias.sock")
	require.NoError(t, os.Link(path, alias))
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Lstat(alias)
	assert.NoError(t, err)
}

func TestCloseConcurrent(t *testing.T) {
	checkNoLeaks(t)
	path := socketPath(t)
	ln, err := Listen(path, Config{Lock: true})
	require.NoError(t, err)
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	var wg sync.WaitGroup
	var failures sync.Map
	for i := range 8 {
		wg.Go(func() {
			if err := ln.Close(); err != nil {
				failures.Store(i, err)
			}
		})
	}
	wg.Wait()
	failures.Range(func(k, v any) bool {
		t.Errorf("Close %v: %v", k, v)
		return true
	})
	select {
	case err := <-accepted:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestAbstractSocket(t *testing.T) {
	checkNoLeaks(t)
	name := fmt.Sprintf("@windhover-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	ln, err := Listen(name, Config{})
	require.NoError(t, err)
	assert.Equal(t, name, ln.Addr().String())
	_, err = os.Lstat(name)
	assert.ErrorIs(t, err, fs.ErrNotExist, "no file, not even one named with the @")

	again, err := Listen(name, Config{})
	require.ErrorIs(t, err, ErrInUse)
	assert.Nil(t, again)

	c, base := serve(t, ln, hello, h2c)
	status, major, body := get(t, c, base+"/")
	assert.Equal(t, 200, status)
	assert.Equal(t, 2, major)
	assert.Equal(t, "hello "+name, body)

	c.CloseIdleConnections()
	require.NoError(t, ln.Close())
	require.NoError(t, ln.Close())
	ln, err = Listen(name, Config{})
	require.NoError(t, err, "the name is free after Close")
	require.NoError(t, ln.Close())
}

func TestUnwrap(t *testing.T) {
	path := socketPath(t)
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	defer ln.Close()
	ul, ok := ln.Unwrap().(*net.UnixListener)
	require.True(t, ok)
	f, err := ul.File()
	require.NoError(t, err)
	f.Close()
}

func TestAcceptedConnKeepsUnixConnMethods(t *testing.T) {
	path := socketPath(t)
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer client.Close()
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	_, ok := c.(interface{ CloseWrite() error })
	assert.True(t, ok, "CloseWrite, which net/http uses for a clean close")
	_, ok = c.(interface{ NetConn() net.Conn })
	assert.True(t, ok)
	assert.Equal(t, path, c.LocalAddr().String())
	inner := c.(interface{ NetConn() net.Conn }).NetConn()
	assert.NotEqual(t, path, inner.LocalAddr().String(), "the kernel's name is the private one")
	require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
	n, err := client.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.True(t, errors.Is(err, io.EOF))
}

// wideInt converts n at run time, so that the tests of IDs past 32 bits,
// which run only where int has 64, still compile where it has 32.
func wideInt(n uint64) int { return int(n) }
