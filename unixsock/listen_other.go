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

// fileID is never set: no Listener is made here.
type fileID struct{ ok bool }

// removeIfSame is never reached: no Listener is made here.
func removeIfSame(string, fileID) error { return nil }
