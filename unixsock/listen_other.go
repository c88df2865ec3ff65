//go:build !(unix && !aix && !solaris)

package unixsock

import "fmt"

// Listen would listen on a Unix socket at path; this platform lacks what it
// needs (flock and the Unix file semantics it relies on), so it returns an
// error wrapping [ErrNotSupported]. See the Linux documentation.
func Listen(path string, cfg Config) (*Listener, error) {
	if _, err := cfg.settings(path != "" && path[0] == '@'); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: listening on %s", ErrNotSupported, path)
}

// socketFile is never made: no Listener is made here.
type socketFile struct{}

func (*socketFile) remove() error { return nil }
func (*socketFile) close() error  { return nil }
