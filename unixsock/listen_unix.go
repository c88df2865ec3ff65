//go:build unix && !aix && !solaris

package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// staleDialTimeout bounds the dial that tells a live socket from a stale
// one. Connecting to a Unix socket never waits on the network: a listener
// accepts into its backlog, a stale socket refuses at once.
const staleDialTimeout = 5 * time.Second

// Test hooks: testHookMade runs after the private directory is made and
// before it is opened; testHookBound after the socket is bound in it and
// before its mode is set; testHookStale after a socket at the path refused
// a connection and before it is removed.
var (
	testHookMade  func(privateDir string)
	testHookBound func(privatePath string)
	testHookStale func()
)

// Listen listens for stream connections on a Unix socket at path, with the
// file mode and owner of cfg. A path beginning with "@" names a Linux
// abstract socket, which has no file: no mode, no owner, no lock and
// nothing to remove, and which any process in the same network namespace
// may connect to, so check its peers with a [PeerFilter].
//
// # What Listen refuses
//
// Whoever may replace the files in path's directory may replace the
// socket and every file Listen makes there, and so could make a server
// running as root act on a file of their choosing. Listen therefore
// opens that directory first and refuses it, with an error wrapping
// [ErrUnsafeDirectory] that names its mode and owner, if it belongs to a
// user other than the process's (effective) user and root, or if its
// group or others may write to it and it lacks the sticky bit. With the
// sticky bit (as on /tmp) others may add files but not rename or remove
// Listen's, which is safe, though another user may then take the name
// first (ErrInUse) or hold its lock. There is no option to accept such a
// directory: a directory shared by a trusted group gets the sticky bit
// (chmod +t), which takes nothing from its members but the power to
// replace each other's files.
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
// Every step acts on open directories, never on a path another user could
// redirect: path's directory is opened once, and each later step names a
// file relative to it or to the private directory (the *at system calls,
// never following a symbolic link); the private directory is checked,
// once open, to be a directory of the process's user with no access for
// anyone else. On Linux, bind(2) and the dial of a stale socket also
// resolve their bare name in the open directory, on a thread of their own
// whose working directory it is (unshare(2) with CLONE_FS). Where that is
// refused (a seccomp filter, as Docker's default one without
// CAP_SYS_ADMIN) and on other systems, they use the full path, which only
// the directories above path's can redirect; Listen then checks that the
// socket landed in the private directory, and fails with ErrUnsafeDirectory
// if it did not. Close, too, removes the socket relative to the directory
// Listen opened, and only if it is still the very file Listen made.
//
// This needs: write permission on path's directory (as any socket does);
// that directory on a file system with hard links (any native Linux file
// system, tmpfs included); and room for the private path, 17 bytes longer
// than path's directory, within the platform's limit on socket paths (107
// bytes on Linux, 103 on the BSDs), so a directory of 90 bytes at most on
// Linux. A process killed at that moment may leave an empty ".sock-*"
// directory behind.
//
// The kernel records the name the socket was bound by as its address;
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
	if abstract {
		return listenAbstract(path)
	}
	if strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("windhover/unixsock: socket path %s ends in a slash", path)
	}
	if dir := filepath.Dir(path); len(dir)+privateOverhead > maxLen {
		return nil, fmt.Errorf("windhover/unixsock: socket directory %s is %d bytes, over the limit of %d that leaves room for the private directory Listen binds in", dir, len(dir), maxLen-privateOverhead)
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

func listenPath(path string, s settings) (_ *Listener, err error) {
	f, d, err := openDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	l := &Listener{addr: &net.UnixAddr{Name: path, Net: "unix"}}
	defer func() {
		if err != nil {
			if l.lock != nil {
				_ = l.lock.Close()
			}
			_ = f.Close()
		}
	}()
	name := filepath.Base(path)
	if s.lock {
		if l.lock, err = lock(d, name+".lock"); err != nil {
			return nil, err
		}
	}
	if l.staleRemoved, err = clearStale(d, name); err != nil {
		return nil, err
	}
	sf := &socketFile{dirFile: f, dir: d, name: name}
	if l.ln, sf.id, err = bindPrivately(d, name, s); err != nil {
		return nil, err
	}
	l.file = sf
	return l, nil
}

// lock opens (creating) and exclusively locks the file name in d. It fails
// at once, with ErrInUse, if another process holds the lock.
func lock(d directory, name string) (*os.File, error) {
	path := d.join(name)
	for range 3 {
		// O_NONBLOCK: opening a named pipe would otherwise wait for a writer.
		fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("windhover/unixsock: lock file: %w", &fs.PathError{Op: "open", Path: path, Err: err})
		}
		held, err := checkLockFile(fd, path)
		if err == nil {
			err = unix.SetNonblock(fd, false)
		}
		if err == nil {
			err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if errors.Is(err, unix.EWOULDBLOCK) {
				err = fmt.Errorf("%w: %s is locked by another process", ErrInUse, path)
			} else if err != nil {
				err = fmt.Errorf("windhover/unixsock: locking %s: %w", path, err)
			}
		}
		if err != nil {
			_ = unix.Close(fd)
			return nil, err
		}
		// A lock on a file removed or replaced between open and flock
		// guards nothing: the next instance would lock whatever is at
		// the name now. Lock what is there.
		var now unix.Stat_t
		if lstatAt(d, name, &now) == nil && sameFile(held, &now) {
			return os.NewFile(uintptr(fd), path), nil
		}
		_ = unix.Close(fd)
	}
	return nil, fmt.Errorf("windhover/unixsock: lock file %s keeps being replaced", d.join(name))
}

// checkLockFile returns the stat of the lock file open as fd if it is a
// regular file of the process's user or root: a file of another user's
// (in a sticky directory such as /tmp) is one that user may remove and
// replace, letting a second instance lock a second file.
func checkLockFile(fd int, path string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("windhover/unixsock: lock file: %w", &fs.PathError{Op: "fstat", Path: path, Err: err})
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("windhover/unixsock: lock file %s is a %s, not a regular file", path, kind(uint32(st.Mode)))
	}
	if uid := int(st.Uid); uid != unix.Geteuid() && uid != 0 {
		return nil, fmt.Errorf("%w: lock file %s belongs to uid %d, who can replace it", ErrUnsafeDirectory, path, uid)
	}
	return &st, nil
}

// clearStale looks at the file name in d, removes it if it is a stale
// socket, and reports whether it did.
func clearStale(d directory, name string) (bool, error) {
	path := d.join(name)
	var before unix.Stat_t
	err := lstatAt(d, name, &before)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "lstat", Path: path, Err: err})
	}
	if m := uint32(before.Mode); m&unix.S_IFMT != unix.S_IFSOCK {
		return false, fmt.Errorf("%w: %s is a %s", ErrNotSocket, path, kind(m))
	}
	var c net.Conn
	at(d, name, func(name string) { c, err = net.DialTimeout("unix", name, staleDialTimeout) })
	if oe := (*net.OpError)(nil); errors.As(err, &oe) {
		oe.Addr = &net.UnixAddr{Name: path, Net: "unix"} // not the bare name the kernel was given
	}
	switch {
	case err == nil:
		_ = c.Close()
		return false, fmt.Errorf("%w: a server answers at %s", ErrInUse, path)
	case errors.Is(err, unix.EAGAIN):
		// A listener whose backlog is full: busy, not gone.
		return false, fmt.Errorf("%w: a server at %s has a full backlog", ErrInUse, path)
	case !errors.Is(err, unix.ECONNREFUSED):
		return false, fmt.Errorf("windhover/unixsock: cannot tell whether %s is in use: %w", path, err)
	}
	if testHookStale != nil {
		testHookStale()
	}
	var after unix.Stat_t
	err = lstatAt(d, name, &after)
	if errors.Is(err, unix.ENOENT) {
		return false, nil // removed meanwhile by someone else
	}
	if err != nil {
		return false, fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "lstat", Path: path, Err: err})
	}
	if !sameFile(&before, &after) {
		return false, fmt.Errorf("%w: %s was replaced while it was checked", ErrInUse, path)
	}
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("windhover/unixsock: removing stale socket: %w", &fs.PathError{Op: "unlinkat", Path: path, Err: err})
	}
	return true, nil
}

func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "device"
	}
	return fmt.Sprintf("file of type %#o", mode&unix.S_IFMT)
}

// bindName is the socket's name in its private directory.
const bindName = "s"

// bindPrivately binds a socket in a private directory in d, gives it its
// mode and owner, links it into d as name and returns the listener and the
// identity of the file.
func bindPrivately(d directory, name string, s settings) (_ *net.UnixListener, id fileID, err error) {
	p, err := makePrivate(d)
	if err != nil {
		return nil, id, err
	}
	defer p.remove(d)
	var bound *net.UnixListener
	at(p.directory, bindName, func(name string) {
		bound, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
		if err == nil {
			// The private name is removed by p.remove, the final one by
			// Listener.Close; the listener itself would remove its name
			// relative to whatever working directory Close runs in.
			bound.SetUnlinkOnClose(false)
		}
	})
	if err != nil {
		// Nothing else can be at the name in a fresh private directory,
		// so only a full path that led elsewhere explains these.
		if errors.Is(err, unix.EADDRINUSE) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, id, fmt.Errorf("%w: a directory on the way to %s was replaced while binding in it: %w", ErrUnsafeDirectory, p.path, err)
		}
		return nil, id, fmt.Errorf("windhover/unixsock: binding in the private directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = bound.Close()
		}
	}()
	if testHookBound != nil {
		testHookBound(p.join(bindName))
	}
	var st unix.Stat_t
	if err = lstatAt(p.directory, bindName, &st); err != nil || uint32(st.Mode)&unix.S_IFMT != unix.S_IFSOCK {
		return nil, id, fmt.Errorf("%w: the socket was bound outside %s: a directory on the way to it was replaced", ErrUnsafeDirectory, p.path)
	}
	// Nobody else can make a file in the private directory, so the name is
	// the socket just bound and cannot be a symbolic link: fchmodat needs
	// no AT_SYMLINK_NOFOLLOW, which Linux before 6.6 does not support.
	if err = unix.Fchmodat(p.fd, bindName, uint32(s.mode), 0); err != nil {
		return nil, id, fmt.Errorf("windhover/unixsock: setting the socket's mode: %w", err)
	}
	if s.uid != -1 || s.gid != -1 {
		if err = unix.Fchownat(p.fd, bindName, s.uid, s.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, id, fmt.Errorf("windhover/unixsock: setting the socket's owner: %w", err)
		}
	}
	if err = unix.Linkat(p.fd, bindName, d.fd, name, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("%w: a file appeared at %s while listening", ErrInUse, d.join(name))
		} else {
			err = fmt.Errorf("windhover/unixsock: linking the socket into place: %w", err)
		}
		return nil, id, err
	}
	// The bound socket holds its inode for as long as the listener is open,
	// so no other file can have this device and inode before Close has
	// compared them: the identity is exact.
	return bound, idOf(&st), nil
}

// socketFile is the socket file Listen made: the directory it is in, held
// open so that Close acts on the directory Listen used whatever has
// happened to its path since, its name there and its identity.
type socketFile struct {
	dirFile *os.File // owns dir.fd
	dir     directory
	name    string
	id      fileID
}

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)} // Dev's type varies by platform
}

func sameFile(a, b *unix.Stat_t) bool { return idOf(a) == idOf(b) }

// remove removes the socket file if its name still holds the very file
// Listen made.
func (f *socketFile) remove() error {
	var st unix.Stat_t
	err := lstatAt(f.dir, f.name, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "lstat", Path: f.dir.join(f.name), Err: err})
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFSOCK || idOf(&st) != f.id {
		return nil // replaced since: not ours to remove
	}
	if err := unix.Unlinkat(f.dir.fd, f.name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("windhover/unixsock: removing the socket file: %w", &fs.PathError{Op: "unlinkat", Path: f.dir.join(f.name), Err: err})
	}
	return nil
}

// close closes the directory.
func (f *socketFile) close() error { return f.dirFile.Close() }
