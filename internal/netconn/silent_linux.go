package netconn

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Silent reports whether the peer of c has sent it no byte at all, as the
// kernel counts them (TCP_INFO's tcpi_bytes_received, Linux 4.1 and later),
// whether or not a reader above has taken them from the socket yet. It
// reports false whenever it cannot tell: c is not over TCP, the socket is
// closed, or the kernel does not count.
func Silent(c net.Conn) bool {
	tc, ok := Find[*net.TCPConn](c)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	silent := false
	err = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), syscall.IPPROTO_TCP, unix.TCP_INFO)
		// A kernel older than 4.2 fills the struct only in part, and the
		// rest reads 0. A socket accepted has received at least the
		// handshake's segments: a tcpi_segs_in (4.2) of 0 means "cannot
		// tell", which covers tcpi_bytes_received (4.1) too.
		silent = err == nil && info.Segs_in != 0 && info.Bytes_received == 0
	})
	return err == nil && silent
}
