//go:build linux

package timeouts

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is Linux's TCP_NOTSENT_LOWAT socket option, which the
// syscall package defines only for some architectures.
const tcpNotSentLowat = 0x19

// limitUnsent bounds the bytes the kernel queues unsent on c's TCP socket
// (found under any wrappers that offer NetConn). It reports whether it could.
func limitUnsent(c net.Conn, n int) bool {
	tc := tcpConn(c)
	if tc == nil {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	})
	return err == nil && serr == nil
}

// tcpConn finds the *net.TCPConn under c's wrappers (TLS, limits, ...).
func tcpConn(c net.Conn) *net.TCPConn {
	for range 16 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
