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

// listenFDsStart is the first descriptor passed (SD_LISTEN_FDS_START).
const listenFDsStart = 3

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
//
// Like sd_listen_fds, Activated trusts LISTEN_FDS: descriptors it counts
// are taken as passed. One that is not open is an error, and then none is
// taken.
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
	// First make sure every descriptor is open, before any is wrapped: an
	// *os.File closes its descriptor when dropped, and a LISTEN_FDS larger
	// than what was passed must not lead to closing descriptors this
	// process opened since.
	for i := range names {
		fd := listenFDsStart + i
		syscall.CloseOnExec(fd)
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			activationTaken.Store(false) // nothing was taken
			return nil, fmt.Errorf("windhover/unixsock: passed descriptor %d (%s): %w", fd, names[i], err)
		}
	}
	ss := make(Sockets, len(names))
	for i, name := range names {
		ss[i] = inherit(listenFDsStart+i, name)
	}
	return ss, nil
}

// inherit turns the open descriptor fd into a Socket by what it is.
func inherit(fd int, name string) Socket {
	f := os.NewFile(uintptr(fd), name)
	s := Socket{Name: name, FD: fd}
	typ, err1 := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	listening, err2 := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err1 != nil || err2 != nil { // not a socket (ENOTSOCK)
		s.File = f
		return s
	}
	stream := typ == syscall.SOCK_STREAM || typ == syscall.SOCK_SEQPACKET
	var err error
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
		return s
	}
	if err != nil {
		// A family package net does not know (netlink, vsock, ...): the
		// caller gets the raw descriptor.
		return Socket{Name: name, FD: fd, File: f}
	}
	_ = f.Close() // the net value holds a duplicate
	return s
}
