package unixsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// The environment variables of systemd's socket activation protocol
// (sd_listen_fds(3)).
const (
	EnvListenPID     = "LISTEN_PID"
	EnvListenFDs     = "LISTEN_FDS"
	EnvListenFDNames = "LISTEN_FDNAMES"
)

const (
	// maxListenFDs bounds LISTEN_FDS, far above any real socket unit, so
	// that a corrupt value cannot make Activated allocate without bound.
	maxListenFDs = 1 << 16
	// unknownName is the name of a descriptor when LISTEN_FDNAMES is unset,
	// as sd_listen_fds_with_names has it.
	unknownName = "unknown"
)

// Socket is one descriptor passed by systemd socket activation, turned into
// exactly one of Listener (a listening stream or seqpacket socket: from
// ListenStream= or ListenSequentialPacket=), PacketConn (a datagram
// socket: ListenDatagram=), Conn (a connected socket: Accept=yes) or File
// (anything else: a FIFO, a netlink socket, ...).
type Socket struct {
	// Name is the descriptor's name from LISTEN_FDNAMES: the socket unit's
	// FileDescriptorName=, by default the unit's name; "unknown" when
	// LISTEN_FDNAMES is unset.
	Name string
	// FD is the descriptor number it was passed as (3, 4, ...). A
	// Listener, PacketConn or Conn holds a duplicate, and the original is
	// closed; a File holds the original.
	FD         int
	Listener   net.Listener
	PacketConn net.PacketConn
	Conn       net.Conn
	File       *os.File
}

// Close closes whichever of Listener, PacketConn, Conn or File is set. An
// inherited Unix socket's file is never removed: it belongs to systemd.
func (s Socket) Close() error {
	switch {
	case s.Listener != nil:
		return s.Listener.Close()
	case s.PacketConn != nil:
		return s.PacketConn.Close()
	case s.Conn != nil:
		return s.Conn.Close()
	case s.File != nil:
		return s.File.Close()
	}
	return nil
}

// Sockets is what [Activated] returns: the passed descriptors in order.
type Sockets []Socket

// Listeners returns the listeners named name, in the order they were
// passed; all the listeners if name is "". A socket unit with several
// ListenStream= lines passes several descriptors under one name.
func (ss Sockets) Listeners(name string) []net.Listener {
	var lns []net.Listener
	for _, s := range ss {
		if s.Listener != nil && (name == "" || s.Name == name) {
			lns = append(lns, s.Listener)
		}
	}
	return lns
}

// Listener returns the first listener named name, or nil if there is none.
func (ss Sockets) Listener(name string) net.Listener {
	for _, s := range ss {
		if s.Listener != nil && s.Name == name {
			return s.Listener
		}
	}
	return nil
}

// Close closes every socket, and returns their errors joined.
func (ss Sockets) Close() error {
	var errs []error
	for _, s := range ss {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// parseListenEnv interprets the values of LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES ("" for unset) for the process pid, and returns the names
// of the descriptors passed, from 3 on. It returns an error wrapping
// ErrNotActivated if they do not pass descriptors to pid, and another error
// if they are malformed. As in sd_listen_fds_with_names, names are split on
// ':' keeping empty ones, and their number must be LISTEN_FDS; an empty or
// unset LISTEN_FDNAMES names each descriptor "unknown".
func parseListenEnv(pid int, listenPID, listenFDs, listenFDNames string) ([]string, error) {
	if listenPID == "" {
		return nil, fmt.Errorf("%w (%s is not set)", ErrNotActivated, EnvListenPID)
	}
	p, ok := atoi(listenPID)
	if !ok || p == 0 {
		return nil, fmt.Errorf("windhover/unixsock: %s=%q is not a process ID", EnvListenPID, listenPID)
	}
	if p != pid {
		return nil, fmt.Errorf("%w (%s=%d is another process; this is %d)", ErrNotActivated, EnvListenPID, p, pid)
	}
	if listenFDs == "" {
		return nil, fmt.Errorf("%w (%s is not set)", ErrNotActivated, EnvListenFDs)
	}
	n, ok := atoi(listenFDs)
	if !ok || n == 0 || n > maxListenFDs {
		return nil, fmt.Errorf("windhover/unixsock: %s=%q is not a count from 1 to %d", EnvListenFDs, listenFDs, maxListenFDs)
	}
	if listenFDNames == "" {
		names := make([]string, n)
		for i := range names {
			names[i] = unknownName
		}
		return names, nil
	}
	if c := strings.Count(listenFDNames, ":") + 1; c != n {
		return nil, fmt.Errorf("windhover/unixsock: %s names %d descriptors, %s=%d", EnvListenFDNames, c, EnvListenFDs, n)
	}
	return strings.Split(listenFDNames, ":"), nil
}

// atoi parses a decimal number of at most nine digits, signs and spaces
// refused.
func atoi(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
