package netconn

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpListen is the kernel's TCP_LISTEN, a listening socket's tcpi_state.
const tcpListen = 10

// Backlog returns how many connections wait in the accept queue of the TCP
// listening socket under ln (through Unwrap methods): connections the
// kernel has completed and no Accept has taken yet, which closing the
// socket would reset. It reads TCP_INFO's tcpi_unacked, which a listening
// socket fills with that count, and reports whether it could tell: not for
// a listener not over TCP, nor outside Linux.
func Backlog(ln net.Listener) (int, bool) {
	tl, ok := tcpListener(ln)
	if !ok {
		return 0, false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, got := 0, false
	if err := rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), syscall.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil && info.State == tcpListen {
			n, got = int(info.Unacked), true
		}
	}); err != nil {
		return 0, false
	}
	return n, got
}
