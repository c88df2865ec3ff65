//go:build linux

package limits

import (
	"net"
	"syscall"

	"github.com/windhover/windhover/internal/netconn"
)

// peerUID returns the uid of the process at the other end of c, a Unix-socket
// connection, from the kernel (SO_PEERCRED): what the peer was when it
// connected, not what it claims. It returns -1 if the socket is out of reach
// or the call fails: every such peer then counts as one client.
func peerUID(c net.Conn) int64 {
	uc, ok := netconn.Find[*net.UnixConn](c)
	if !ok {
		return -1
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return -1
	}
	uid := int64(-1)
	_ = rc.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			uid = int64(cred.Uid)
		}
	})
	return uid
}
