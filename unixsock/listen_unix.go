//go:build unix && !aix && !solaris

package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// staleDialTimeout bounds the dial that tells a live socket from a stale
// one. Connecting to a Unix socket never waits on the network: a listener
// accepts into its backlog, a stale socket refuses at once.
const staleDialTimeout = 5 * time.Second

// Test hooks: testHookBound runs after the socket is bound in its private
// directory and before its mode is set; testHookStale after a socket at the
// path refused a connection and before it is removed.
var (
	testHookBound func(privatePath string)
	testHookStale func()
)

// Listen listens for stream connections on a Unix socket at path, with the
// file mode and owner of cfg. A path beginning with "@" names a Linux
// abstract socket, which has no file: no mode, no owner, no lock and
// nothing to remove, and which any process in the same network namespace
// may connect to, so check its peers with a [PeerFilter].
//
// If path exists Listen looks at it first, without following a symbolic
// link:
//
//   - a socket a server answers on: an error wrapping [ErrInUse], and the
//     file is left alone;
//   - a socket that refuses connections (ECONNREFUSED: the server that made
//     it is gone): the stale file is removed, counted in [Stats], and Listen
//     goes on;
//   - anything else, or a socket it cannot dial (EACCES): an error, wrapping
//     [ErrNotSocket] for a file that is not a socket; the file is never
//     removed.
//
// With Config.Lock, the lock file is taken before that look, which makes
// the look and the listen one step for every instance that also locks.
// Without it, Listen checks that the stale file is still the one it dialled
// before removing it (else ErrInUse), which narrows, but cannot close, the
// window in which another instance starting at the same moment replaces it.
//
// # How the socket gets its mode without a permissive moment
//
// bind(2) creates the file with mode 0777 minus the process's umask, and
// the umask is shared by every goroutine, so changing it around bind would
// race them. Instead Listen binds the socket inside a fresh private
// directory (mode 0700, made next to path), sets its mode and owner there,
// where nobody else can reach it, and then hard-links it into place with
// link(2), which fails rather than replace anything that has appeared at
// path in between (that error wraps [ErrInUse]). The private name and
// directory are then removed. So the socket becomes reachable at path with
// its final mode and owner, and never replaces another file.
//
// This needs: write permission on path's directory (as any socket does);
// that directory on a file system with hard links (any native Linux file
// system, tmpfs included); and room for the private path, 17 bytes longer
// than path's directory, within the platform's limit on socket paths (107
// bytes on Linux, 103 on the BSDs), so a directory of 90 bytes at most on
// Linux. A process killed at that moment may leave an empty ".sock-*"
// directory behind. Anyone who can write to the directory can replace the
// socket at any time, so keep it private to the server's users, as
// /run/<service> is.
//
// The kernel records the private path as the socket's address;
// [Listener.Addr] and the LocalAddr of accepted connections report path
// instead.
//
// Listen is available on Linux, Android, macOS and the BSDs; elsewhere it
// returns an error wrapping [ErrNotSupported], as it does for abstract
// sockets outside Linux.
func Listen(path string, cfg Config) (*Listener, error) {
	if path == "" {
		return nil, errors.New("windhover/unixsock: empty socket path")
	}
	abstract := path[0] == '@'
	s, err := cfg.settings(abstract)
	if err != nil {
		return nil, err
	}
	// sun_path must hold the path and, except for an abstract name, a NUL.
	maxLen := len(syscall.RawSockaddrUnix{}.Path) - 1
	if len(path) > maxLen && !(abstract && len(path) == maxLen+1) {
		return nil, fmt.Errorf("windhover/unixsock: socket path %s is %d bytes, over the limit of %d", path, len(path), maxLen)
	}
	if dir := filepath.Dir(path); !abstract && len(dir)+privateOverhead > maxLen {
		return nil, fmt.Errorf("windhover/unixsock: socket directory %s is %d bytes, over the limit of %d that leaves room for the private directory Listen binds in", dir, len(dir), maxLen-privateOverhead)
	}
	if abstract {
		return listenAbstract(path)
	}
	return listenPath(path, s)
}

func listenAbstract(name string) (*Listener, error) {
	if runtime.GOOS != "linux" && runtime.GOOS != "android" {
		return nil, fmt.Errorf("%w: abstract socket %s", ErrNotSupported, name)
	}
	addr := &net.UnixAddr{Name: name, Net: "unix"}
	ln, err := net.ListenUnix("unix", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w: %s: %w", ErrInUse, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("windhover/unixsock: %w", err)
	}
	return &Listener{ln: ln, addr: addr}, nil
}

func listenPath(path string, s settings) (*Listener, error) {
	l := &Listener{addr: &net.UnixAddr{Name: path, Net: "unix"}}
	if s.lock {
		f, err := lock(path + ".lock")
		if err != nil {
			return nil, err
		}
		l.lock = f
	}
	var err error
	if l.staleRemoved, err = clearStale(path); err == nil {
		l.ln, l.file, err = bindPrivately(path, s)
	}
	if err != nil {
		if l.lock != nil {
			_ = l.lock.Close()
		}
		return nil, err
	}
	return l, nil
}

// lock opens (creating) and exclusively locks the lock file at path. It
// fails at once, with ErrInUse, if another process holds the lock.
func lock(path string) (*os.File, error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("windhover/unixsock: lock file: %w", err)
		}
		// Fd costs nothing here: a regular file is never in the poller.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s is locked by another process", ErrInUse, path)
			}
			return nil, fmt.Errorf("windhover/unixsock: locking %s: %w", path, err)
		}
		// A lock on a file removed or replaced between open and flock
		// guards nothing: the next instance would lock whatever is at
		// the path now. Lock what is there.
		held, err1 := f.Stat()
		now, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		_ = f.Close()
	}
	return nil, fmt.Errorf("windhover/unixsock: lock file %s keeps being replaced", path)
}

// clearStale looks at what is at path, removes it if it is a stale socket,
// and reports whether it did.
func clearStale(path string) (bool, error) {
	before, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("windhover/unixsock: %w", err)
	}
	if before.Mode().Type() != fs.ModeSocket {
		return false, fmt.Errorf("%w: %s is a %s", ErrNotSocket, path, kind(before.Mode()))
	}
	c, err := net.DialTimeout("unix", path, staleDialTimeout)
	switch {
	case err == nil:
		_ = c.Close()
		return false, fmt.Errorf("%w: a server answers at %s", ErrInUse, path)
	case errors.Is(err, syscall.EAGAIN):
		// A listener whose backlog is full: busy, not gone.
		return false, fmt.Errorf("%w: a server at %s has a full backlog", ErrInUse, path)
	case !errors.Is(err, syscall.ECONNREFUSED):
		return false, fmt.Errorf("windhover/unixsock: cannot tell whether %s is in use: %w", path, err)
	}
	if testHookStale != nil {
		testHookStale()
	}
	after, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // removed meanwhile by someone else
	}
	if err != nil {
		return false, fmt.Errorf("windhover/unixsock: %w", err)
	}
	if !os.SameFile(before, after) {
		return false, fmt.Errorf("%w: %s was replaced while it was checked", ErrInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("windhover/unixsock: removing stale socket: %w", err)
	}
	return true, nil
}

func kind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case fs.ModeDir:
		return "directory"
	case fs.ModeSymlink:
		return "symbolic link"
	case fs.ModeNamedPipe:
		return "named pipe"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "device"
	}
	return "file of type " + m.Type().String()
}

// bindPrivately binds a socket in a private directory next to path, gives
// it its mode and owner, links it at path and returns the listener and the
// identity of the file.
func bindPrivately(path string, s settings) (_ *net.UnixListener, id fileID, err error) {
	dir, err := mkdirPrivate(filepath.Dir(path))
	if err != nil {
		return nil, id, fmt.Errorf("windhover/unixsock: making a private directory beside the socket: %w", err)
	}
	private := filepath.Join(dir, "s")
	defer func() {
		// Only our socket's private name can be in there.
		_ = os.Remove(private)
		_ = os.Remove(dir)
	}()
	bound, err := net.ListenUnix("unix", &net.UnixAddr{Name: private, Net: "unix"})
	if err != nil {
		return nil, id, fmt.Errorf("windhover/unixsock: binding in the private directory: %w", err)
	}
	bound.SetUnlinkOnClose(false) // the private name is removed above; the final one by Listener.Close
	defer func() {
		if err != nil {
			_ = bound.Close()
		}
	}()
	if testHookBound != nil {
		testHookBound(private)
	}
	if err = os.Chmod(private, s.mode); err != nil {
		return nil, id, fmt.Errorf("windhover/unixsock: setting the socket's mode: %w", err)
	}
	if s.uid != -1 || s.gid != -1 {
		if err = os.Lchown(private, s.uid, s.gid); err != nil {
			return nil, id, fmt.Errorf("windhover/unixsock: setting the socket's owner: %w", err)
		}
	}
	fi, err := os.Lstat(private)
	if err != nil {
		return nil, id, fmt.Errorf("windhover/unixsock: %w", err)
	}
	if err = os.Link(private, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w: a file appeared at %s while listening", ErrInUse, path)
		} else {
			err = fmt.Errorf("windhover/unixsock: linking the socket into place: %w", err)
		}
		return nil, id, err
	}
	// The bound socket holds its inode for as long as the listener is open,
	// so no other file can have this device and inode before Close has
	// compared them: the identity is exact.
	return bound, idOf(fi), nil
}

// fileID identifies a file by device and inode, as recorded when Listen
// created it; ok is false for an abstract socket.
type fileID struct {
	dev, ino uint64
	ok       bool
}

// privateOverhead is how much longer the private socket path is than its
// directory: "/.sock-", eight hex digits, "/s".
const privateOverhead = len("/.sock-") + 8 + len("/s")

// mkdirPrivate makes a new directory with mode 0700 in parent, named
// ".sock-" and eight random hex digits, so that its length is known.
func mkdirPrivate(parent string) (string, error) {
	var err error
	for range 16 {
		dir := filepath.Join(parent, fmt.Sprintf(".sock-%08x", rand.Uint32()))
		if err = os.Mkdir(dir, 0o700); !errors.Is(err, fs.ErrExist) {
			return dir, err
		}
	}
	return "", err
}

func idOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), ok: true}
}

// removeIfSame removes the socket file at path if it is still the file id.
func removeIfSame(path string, id fileID) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("windhover/unixsock: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket || idOf(fi) != id {
		return nil // replaced since: not ours to remove
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("windhover/unixsock: removing the socket file: %w", err)
	}
	return nil
}
