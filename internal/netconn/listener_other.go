//go:build !linux

package netconn

import "net"

// Backlog cannot see a listening socket's accept queue outside Linux: it
// reports false.
func Backlog(ln net.Listener) (int, bool) { return 0, false }
