//go:build linux

package timeouts

import (
	"net"
	"syscall"

	"github.com/windhover/windhover/internal/netconn"
)

// tcpNotSentLowat is Linux's TCP_NOTSENT_LOWAT socket option, which the
// syscall package defines only for some architectures.
const tcpNotSentLowat = 0x19

// limitUnsent bounds the bytes the kernel queues unsent on c's TCP socket
// (found under any wrappers that offer NetConn), as far as it can: a
// connection that is not TCP, or whose kernel refuses, keeps its setting, and
// so does a socket whose bound is already lower (set by the listener, or by
// the system's net.ipv4.tcp_notsent_lowat).
func limitUnsent(c net.Conn, n int) {
	tc, ok := netconn.Find[*net.TCPConn](c)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		// The kernel reports an unset bound as -1, its largest value.
		if cur, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat); err == nil && uint32(cur) <= uint32(n) {
			return
		}
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	})
}
