//go:build !linux

package netconn

import "net"

// Silent reports whether the peer of c has sent it no byte at all. Outside
// Linux it cannot tell, and reports false.
func Silent(c net.Conn) bool { return false }
