package unixsock

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// Listener is a Unix socket listener made by [Listen]: a net.Listener that
// knows whether it created its socket file, and removes that file on Close
// only if it is still the one it created. It is safe for concurrent use.
type Listener struct {
	ln           *net.UnixListener
	addr         *net.UnixAddr // the path as given, or "@name"
	file         *socketFile   // the socket file Listen created; nil for an abstract socket
	lock         *os.File      // the held lock file, or nil
	staleRemoved bool

	accepted  atomic.Uint64
	closeOnce sync.Once
}

// Stats is a snapshot of a Listener's counters.
type Stats struct {
	// Accepted counts the connections accepted.
	Accepted uint64
	// StaleRemoved is 1 if Listen found a stale socket file at the path (no
	// server answered) and removed it, else 0.
	StaleRemoved uint64
}

// Stats returns a snapshot of l's counters.
func (l *Listener) Stats() Stats {
	s := Stats{Accepted: l.accepted.Load()}
	if l.staleRemoved {
		s.StaleRemoved = 1
	}
	return s
}

// Accept waits for and returns the next connection. A connection on a
// socket file reports the socket's path as its LocalAddr (the kernel would
// report the name it was bound by in its private directory, see [Listen])
// and has a NetConn method returning the *net.UnixConn, whose methods it
// also has. Accept returns an error wrapping net.ErrClosed after Close.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	if l.file != nil {
		return &conn{UnixConn: c, laddr: l.addr}, nil
	}
	return c, nil
}

// conn is an accepted connection on a socket file, reporting the socket's
// final path as its local address.
type conn struct {
	*net.UnixConn
	laddr *net.UnixAddr
}

// LocalAddr returns the path the listener was asked to listen on.
func (c *conn) LocalAddr() net.Addr { return c.laddr }

// NetConn returns the underlying *net.UnixConn.
func (c *conn) NetConn() net.Conn { return c.UnixConn }

// Addr returns the socket's address: the path given to [Listen] (not made
// absolute), or "@name" for an abstract socket.
func (l *Listener) Addr() net.Addr { return l.addr }

// Unwrap returns the underlying *net.UnixListener, for hand-off code that
// needs its file descriptor (its File method). Closing it directly leaves
// the socket file and the lock in place; close l instead. Its Addr is the
// name the socket was bound by in its private directory: "s" where that
// name was resolved in the open directory, else the private path.
func (l *Listener) Unwrap() net.Listener { return l.ln }

// Close stops the listener. If Listen created a socket file and its name
// still holds that very file (same device and inode, so not one another
// process put there since), Close removes it first, so that no client ever
// finds a socket nobody serves. It looks the name up in the directory
// Listen opened, not along the path, which may lead elsewhere by now, and
// follows no symbolic link. An abstract socket has no file to remove.
// Then it releases the lock file, if any, and leaves that file in place:
// removing it would let an instance that opened it just before lock a file
// no longer at the path, while a third locks a new one, and both would run.
//
// Close is idempotent: later calls return nil. It is safe to call
// concurrently with Accept, which then returns an error.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		var errs []error
		if l.file != nil {
			errs = append(errs, l.file.remove())
		}
		if err := l.ln.Close(); !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err) // closed already through Unwrap: not an error here
		}
		if l.lock != nil {
			errs = append(errs, l.lock.Close())
		}
		if l.file != nil {
			errs = append(errs, l.file.close())
		}
		err = errors.Join(errs...)
	})
	return err
}
