//go:build unix && !aix && !solaris

package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// directory is an open directory, in which files are named relative to fd
// (the *at system calls), and the path it was opened by, for messages and
// for the calls that only take a path.
type directory struct {
	fd   int
	path string
}

func (d directory) join(name string) string { return filepath.Join(d.path, name) }

// lstatAt stats name in d without following a symbolic link.
func lstatAt(d directory, name string, st *unix.Stat_t) error {
	return unix.Fstatat(d.fd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}

// openDir opens the socket's directory, refusing one in which another user
// could replace what Listen puts there. The file owns the descriptor.
func openDir(path string) (*os.File, directory, error) {
	fd, err := unix.Open(path, openDirFlags, 0)
	if err != nil {
		return nil, directory{}, fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err != nil {
		err = fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "fstat", Path: path, Err: err})
	} else {
		err = checkDir(path, &st)
	}
	if err != nil {
		_ = f.Close()
		return nil, directory{}, err
	}
	return f, directory{fd: fd, path: path}, nil
}

// checkDir refuses a directory that a user other than the process's and
// root may write to and whose files they may therefore rename and remove:
// one another user owns (an owner may change its mode at will), or one
// its group or others may write to without the sticky bit. With the sticky
// bit, rename(2) and unlink(2) of a file need its owner, the directory's or
// root, so others cannot touch Listen's files, nor rename the private
// directory away or anything over it.
func checkDir(path string, st *unix.Stat_t) error {
	mode, euid := uint32(st.Mode), unix.Geteuid()
	switch {
	case int(st.Uid) != euid && st.Uid != 0:
		return fmt.Errorf("%w: %s belongs to uid %d (mode %#o), who can replace the files in it; use a directory of uid %d's or root's",
			ErrUnsafeDirectory, path, st.Uid, mode&0o7777, euid)
	case mode&0o022 != 0 && mode&unix.S_ISVTX == 0:
		return fmt.Errorf("%w: %s (mode %#o, uid %d) may be written to by its group or others and lacks the sticky bit, so they can replace the files in it; take their write permission away or set the sticky bit",
			ErrUnsafeDirectory, path, mode&0o7777, st.Uid)
	}
	return nil
}

// privateOverhead is how much longer the private socket path is than its
// directory: "/.sock-", eight hex digits, "/s".
const privateOverhead = len("/.sock-") + 8 + len("/") + len(bindName)

// private is the private directory a socket is bound in, open, and its
// name in the socket's directory.
type private struct {
	directory
	name string
}

// makePrivate makes a new directory with mode 0700 in d, named ".sock-"
// and eight random hex digits so that its length is known, opens it and
// checks that what it opened is that directory: a directory of this
// process's user that nobody else may use. No other user can make one, so
// that proves nobody replaced it between mkdirat and openat.
func makePrivate(d directory) (*private, error) {
	var name string
	var err error
	for range 16 {
		name = fmt.Sprintf(".sock-%08x", rand.Uint32())
		if err = unix.Mkdirat(d.fd, name, 0o700); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	path := d.join(name)
	if err != nil {
		return nil, fmt.Errorf("windhover/unixsock: making a private directory beside the socket: %w", &fs.PathError{Op: "mkdirat", Path: path, Err: err})
	}
	if testHookMade != nil {
		testHookMade(path)
	}
	fd, err := unix.Openat(d.fd, name, openDirFlags|unix.O_NOFOLLOW, 0)
	if err != nil {
		// Only someone who renamed it away explains these: ELOOP (or
		// EMLINK on FreeBSD) for a symbolic link, ENOTDIR for a file.
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
			return nil, fmt.Errorf("%w: the private directory %s was replaced as soon as it was made: %w", ErrUnsafeDirectory, path, err)
		}
		return nil, fmt.Errorf("windhover/unixsock: opening the private directory: %w", &fs.PathError{Op: "openat", Path: path, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("windhover/unixsock: %w", &fs.PathError{Op: "fstat", Path: path, Err: err})
	}
	if mode := uint32(st.Mode); mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != unix.Geteuid() || mode&0o077 != 0 {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("%w: the private directory %s was replaced as soon as it was made, by a %s of uid %d with mode %#o",
			ErrUnsafeDirectory, path, kind(mode), st.Uid, mode&0o7777)
	}
	return &private{directory: directory{fd: fd, path: path}, name: name}, nil
}

// remove removes the private directory and the socket's private name in
// it, and closes it. Only Listen's socket can be in there; the directory
// is removed only if its name in d still names it.
func (p *private) remove(d directory) {
	_ = unix.Unlinkat(p.fd, bindName, 0)
	var here, there unix.Stat_t
	if unix.Fstat(p.fd, &here) == nil && lstatAt(d, p.name, &there) == nil && sameFile(&here, &there) {
		_ = unix.Unlinkat(d.fd, p.name, unix.AT_REMOVEDIR)
	}
	_ = unix.Close(p.fd)
}
