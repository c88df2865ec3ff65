//go:build linux

package unixsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// activationTaken is set once Activated has taken the passed descriptors.
var activationTaken atomic.Bool

// Activated returns the sockets systemd passed to this process by socket
// activation (sd_listen_fds(3)), in the order they were passed: LISTEN_PID
// must be this process's ID and LISTEN_FDS the number of descriptors, which
// start at 3; LISTEN_FDNAMES, if set, names them, colon-separated, in
// order.
//
// If the process was not started that way, Activated returns an error
// wrapping [ErrNotActivated] and no sockets: the cue to listen by other
// means. Malformed variables, or a descriptor that is not open, give
// another error.
//
// Every passed descriptor is made close-on-exec at once, so that programs
// this process starts do not inherit them. Listeners of Unix sockets never
// remove their socket file on Close: the file is systemd's. With unsetEnv,
// the three variables are removed from the environment, whatever the
// outcome, so that child processes do not believe the sockets are theirs.
//
// The descriptors can be taken once: a later call returns an error (or, if
// the variables were unset, one wrapping ErrNotActivated). Activated is
// safe to call from any goroutine.
func Activated(unsetEnv bool) (Sockets, error) {
	names, err := parseListenEnv(os.Getpid(), os.Getenv(EnvListenPID), os.Getenv(EnvListenFDs), os.Getenv(EnvListenFDNames))
	if unsetEnv {
		for _, k := range []string{EnvListenPID, EnvListenFDs, EnvListenFDNames} {
			_ = os.Unsetenv(k)
		}
	}
	if err != nil {
		return nil, err
	}
	if !activationTaken.CompareAndSwap(false, true) {
		return nil, errors.New("windhover/unixsock: the activation sockets were already taken by an earlier call to Activated")
	}
	for i := range names {
		syscall.CloseOnExec(listenFDsStart + i)
	}
	ss := make(Sockets, 0, len(names))
	for i, name := range names {
		s, err := inherit(listenFDsStart+i, name)
		if err != nil {
			_ = ss.Close()
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// inherit turns descriptor fd into a Socket by what it is.
func inherit(fd int, name string) (Socket, error) {
	s := Socket{Name: name, FD: fd}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return s, fmt.Errorf("windhover/unixsock: passed descriptor %d (%s): %w", fd, name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		s.File = f
		return s, nil
	}
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil {
		s.File = f
		return s, nil
	}
	listening, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil {
		s.File = f
		return s, nil
	}
	stream := typ == syscall.SOCK_STREAM || typ == syscall.SOCK_SEQPACKET
	switch {
	case stream && listening != 0:
		s.Listener, err = net.FileListener(f)
		if ul, ok := s.Listener.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	case stream:
		s.Conn, err = net.FileConn(f)
	case typ == syscall.SOCK_DGRAM:
		s.PacketConn, err = net.FilePacketConn(f)
	default:
		s.File = f
		return s, nil
	}
	if err != nil {
		// A family package net does not know (netlink, vsock, ...): the
		// caller gets the raw descriptor.
		return Socket{Name: name, FD: fd, File: f}, nil
	}
	_ = f.Close()
	return s, nil
}
