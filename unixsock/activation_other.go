//go:build !linux

package unixsock

import "fmt"

// Activated would return the sockets passed by systemd socket activation,
// which exists only on Linux: here it returns an error wrapping both
// [ErrNotActivated], so that code falling back to listening by other means
// works unchanged, and [ErrNotSupported].
func Activated(unsetEnv bool) (Sockets, error) {
	return nil, fmt.Errorf("%w (%w)", ErrNotActivated, ErrNotSupported)
}
