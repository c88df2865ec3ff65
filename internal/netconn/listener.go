package netconn

import "net"

// tcpListener returns the *net.TCPListener under ln, as the Unwrap methods
// of windhover's listeners (and a user's) lead, for at most 32 layers.
func tcpListener(ln net.Listener) (*net.TCPListener, bool) {
	for range maxDepth {
		switch l := ln.(type) {
		case *net.TCPListener:
			return l, true
		case interface{ Unwrap() net.Listener }:
			ln = l.Unwrap()
		default:
			return nil, false
		}
	}
	return nil, false
}
