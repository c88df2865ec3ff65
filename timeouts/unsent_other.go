//go:build !linux

package timeouts

import "net"

// limitUnsent does nothing where TCP_NOTSENT_LOWAT is not supported here.
func limitUnsent(net.Conn, int) {}
