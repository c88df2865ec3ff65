//go:build linux

package benchmarks

import (
	"bytes"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// idleConns is how many keep-alive connections BenchmarkIdleConnections
// holds open at once.
const idleConns = 10_000

// BenchmarkIdleConnections measures what the server holds for each idle
// keep-alive connection, bare and behind the whole stack: it opens
// idleConns connections, makes one GET on each, leaves them all open and
// idle, and reports the growth of the Go heap and stacks in use per
// connection (B/conn). The client speaks through raw sockets, whose only
// memory is the kernel's, so the growth is the server's. No time is
// measured: the sec/op it reports is meaningless.
func BenchmarkIdleConnections(b *testing.B) {
	n := idleConns
	if lim := raiseFileLimit(2*n + 512); lim < 2*n+512 {
		n = (lim - 512) / 2
		b.Logf("the file limit (%d) allows %d connections, not %d", lim, n, idleConns)
	}
	for _, name := range []string{"bare", "windhover"} {
		b.Run(name, func(b *testing.B) {
			var setup []testserver.Setup
			if name == "windhover" {
				setup = append(setup, newStack(b, app()).setup)
			}
			s := testserver.Start(b, app(), testserver.H1, setup...)
			addr := s.Listener.Addr().(*net.TCPAddr)
			req := []byte("GET /items/42 HTTP/1.1\r\nHost: localhost\r\n\r\n")
			before := inUse()
			fds := make([]int, 0, n)
			defer func() {
				for _, fd := range fds {
					// Reset rather than close, so that the client's ports
					// are not held in TIME_WAIT for the next run's
					// connections.
					_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
					_ = syscall.Close(fd)
				}
			}()
			buf := make([]byte, 512)
			for range n {
				fd, err := dialRaw(addr)
				if err != nil {
					b.Fatal(err)
				}
				fds = append(fds, fd)
				if _, err := syscall.Write(fd, req); err != nil {
					b.Fatal(err)
				}
				// The whole response: its header ends and its body is "ok".
				got := 0
				for !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nok")) {
					k, err := syscall.Read(fd, buf[got:])
					if err != nil || k == 0 {
						b.Fatalf("connection %d: read %q: %v", len(fds), buf[:got], err)
					}
					got += k
				}
				if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
					b.Fatalf("connection %d: %q", len(fds), buf[:got])
				}
			}
			time.Sleep(100 * time.Millisecond) // every connection back in its idle read
			after := inUse()
			for b.Loop() {
			}
			// After the loop, which resets what was reported before it.
			b.ReportMetric(float64(after-before)/float64(n), "B/conn")
		})
	}
}

// inUse returns the bytes of Go heap and goroutine stacks in use, after
// collecting garbage.
func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// dialRaw connects a blocking socket to addr, outside Go's runtime.
func dialRaw(addr *net.TCPAddr) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &syscall.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := syscall.Connect(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// raiseFileLimit raises the process's limit on open files to want if it can
// (root can raise the hard limit too), and returns the limit in force.
func raiseFileLimit(want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur >= uint64(want) {
		return int(lim.Cur)
	}
	next := lim
	next.Cur = uint64(want)
	if next.Max < next.Cur {
		next.Max = next.Cur
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) != nil {
		next.Cur = lim.Max
		next.Max = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) != nil {
			return int(lim.Cur)
		}
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return int(lim.Cur)
}
