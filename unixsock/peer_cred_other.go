//go:build !linux

package unixsock

import (
	"fmt"
	"syscall"
)

const peerCredSupported = false

// peerCred would read the peer's credentials; SO_PEERCRED is Linux's, and
// the standard library offers no equivalent elsewhere.
func peerCred(syscall.Conn) (PeerCred, error) {
	return PeerCred{}, fmt.Errorf("%w: %w", ErrNoPeerCred, ErrNotSupported)
}
