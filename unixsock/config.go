package unixsock

import (
	"fmt"
	"io/fs"
	"math"
)

// DefaultMode is the permission of a socket file when Config.Mode is zero:
// the owner and the group may connect, nobody else.
const DefaultMode fs.FileMode = 0o660

// Config says how [Listen] creates a socket file. The zero Config is the safe
// default: mode 0660, the process's own user and group, no lock file.
type Config struct {
	// Mode is the socket file's permission bits (connecting to a socket needs
	// write permission on it). Zero means DefaultMode, 0660. Bits other than
	// the nine permission bits are an error. The file never has more
	// permissive bits than these, not even for a moment.
	Mode fs.FileMode

	// UID, if not nil, is the user ID the socket file is given (chown).
	// Nil or -1 leaves the file owned by the process's user; other negative
	// values are an error. Giving a file away to another user takes root
	// (CAP_CHOWN).
	UID *int

	// GID, if not nil, is the group ID the socket file is given. Nil or -1
	// leaves the group the file was created with; other negative values are
	// an error. Without root, only a group the process belongs to.
	GID *int

	// Lock, if true, takes an exclusive lock (flock) on the file "<path>.lock"
	// before looking at the socket path and holds it for the listener's
	// life, so that two instances starting at once cannot both decide the
	// socket is stale and replace each other's. The lock file is created
	// with mode 0600 if missing and is left in place on Close; see
	// [Listener.Close] for why.
	Lock bool
}

// settings is a validated Config.
type settings struct {
	mode     fs.FileMode
	uid, gid int // -1: unchanged
	lock     bool
}

func (c *Config) settings(abstract bool) (settings, error) {
	s := settings{mode: c.Mode, uid: -1, gid: -1, lock: c.Lock}
	if s.mode == 0 {
		s.mode = DefaultMode
	}
	if c.Mode&^fs.ModePerm != 0 {
		return s, fieldError("Mode", fmt.Sprintf("%#o", uint32(c.Mode)), "has bits other than the permission bits 0777")
	}
	var err error
	if s.uid, err = id("UID", c.UID); err != nil {
		return s, err
	}
	if s.gid, err = id("GID", c.GID); err != nil {
		return s, err
	}
	if abstract {
		// An abstract socket has no file to set a mode or owner on, nor a
		// path to lock: asking for one would promise a protection that does
		// not exist.
		const noFile = "cannot apply to an abstract socket, which has no file (check peer credentials instead)"
		switch {
		case c.Mode != 0:
			return s, fieldError("Mode", fmt.Sprintf("%#o", uint32(c.Mode)), noFile)
		case s.uid != -1:
			return s, fieldError("UID", s.uid, noFile)
		case s.gid != -1:
			return s, fieldError("GID", s.gid, noFile)
		case c.Lock:
			return s, fieldError("Lock", true, noFile)
		}
	}
	return s, nil
}

// id validates an optional user or group ID: -1 when unset.
func id(field string, p *int) (int, error) {
	if p == nil || *p == -1 {
		return -1, nil
	}
	// (uid_t)-1 means "unchanged" to chown, so the largest valid ID is one less.
	if *p < 0 || int64(*p) >= math.MaxUint32 {
		return -1, fieldError(field, *p, "must be -1 (unchanged) or an ID from 0 to 4294967294")
	}
	return *p, nil
}

func fieldError(field string, value any, problem string) error {
	return fmt.Errorf("windhover/unixsock: Config.%s = %v %s", field, value, problem)
}
