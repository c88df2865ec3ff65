// Package netconn walks down the wrappers of a net.Conn (a *tls.Conn, a
// connection limit's slot, a user's own) to the connections beneath: the one
// walk every package that needs the socket, or a wrapper of its own, makes;
// and reads what the kernel knows of a connection or a listening socket
// (Silent, Backlog) where the operating system tells.
package netconn

import (
	"iter"
	"net"
)

// maxDepth bounds a walk, against a wrapper that returns itself.
const maxDepth = 32

// Layers yields c, then each connection beneath it, as the NetConn methods
// (*tls.Conn's, and windhover's wrappers') or Unwrap methods lead, outermost
// first, for at most 32 layers.
func Layers(c net.Conn) iter.Seq[net.Conn] {
	return func(yield func(net.Conn) bool) {
		for range maxDepth {
			if c == nil || !yield(c) {
				return
			}
			c = beneath(c)
		}
	}
}

// Innermost returns the last of the layers Layers yields, and false if
// there are more beneath it than Layers walks.
func Innermost(c net.Conn) (net.Conn, bool) {
	for range maxDepth - 1 {
		next := beneath(c)
		if next == nil {
			return c, true
		}
		c = next
	}
	return c, beneath(c) == nil
}

// beneath returns the connection c wraps, or nil.
func beneath(c net.Conn) net.Conn {
	switch w := c.(type) {
	case interface{ NetConn() net.Conn }:
		return w.NetConn()
	case interface{ Unwrap() net.Conn }:
		return w.Unwrap()
	}
	return nil
}

// Find returns the first layer of c, outermost first, that is a T.
func Find[T any](c net.Conn) (T, bool) {
	for l := range Layers(c) {
		if t, ok := l.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}
