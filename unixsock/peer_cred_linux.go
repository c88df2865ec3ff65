//go:build linux

package unixsock

import (
	"fmt"
	"syscall"
)

const peerCredSupported = true

// peerCred reads SO_PEERCRED from c's socket.
func peerCred(c syscall.Conn) (PeerCred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return PeerCred{}, fmt.Errorf("%w: %w", ErrNoPeerCred, err)
	}
	var uc *syscall.Ucred
	var uerr error
	if err := rc.Control(func(fd uintptr) {
		uc, uerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, fmt.Errorf("%w: %w", ErrNoPeerCred, err)
	}
	if uerr != nil {
		return PeerCred{}, fmt.Errorf("%w: getsockopt SO_PEERCRED: %w", ErrNoPeerCred, uerr)
	}
	return PeerCred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid)}, nil
}
