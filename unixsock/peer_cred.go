package unixsock

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/windhover/windhover/internal/netconn"
)

// PeerCred is the identity of the process at the other end of a Unix socket
// connection, as the kernel recorded it when that process connected
// (SO_PEERCRED): not what the process claims, and not affected by what it
// does later (a setuid, or passing the descriptor on).
type PeerCred struct {
	// PID is the peer's process ID in the server's PID namespace, or 0 if
	// the peer's process is not visible there (another container, say).
	PID int
	// UID is the peer's effective user ID.
	UID int
	// GID is the peer's effective group ID. Supplementary groups are not
	// carried by SO_PEERCRED.
	GID int
}

// String formats c as "uid=1000 gid=1000 pid=4242".
func (c PeerCred) String() string {
	return "uid=" + strconv.Itoa(c.UID) + " gid=" + strconv.Itoa(c.GID) + " pid=" + strconv.Itoa(c.PID)
}

// PeerCredFromConn returns the credentials of c's peer. c may be a
// *net.UnixConn or any connection wrapping one that leads to it through
// NetConn() net.Conn (as *tls.Conn and windhover's listeners offer) or
// Unwrap() net.Conn methods, or that embeds one (it then has SyscallConn and
// a "unix" LocalAddr). Any other connection, a TCP one say, gives an error
// wrapping [ErrNoPeerCred]; outside Linux, one wrapping [ErrNotSupported].
//
// It makes one getsockopt system call; [ConnContext] calls it once per
// connection so that handlers need not.
func PeerCredFromConn(c net.Conn) (PeerCred, error) {
	last := c
	for l := range netconn.Layers(c) {
		last = l
		switch x := l.(type) {
		case *net.UnixConn:
			return peerCred(x)
		case interface{ NetConn() net.Conn }, interface{ Unwrap() net.Conn }:
			// A wrapper: look beneath it.
		case syscall.Conn:
			if la := l.LocalAddr(); la != nil && strings.HasPrefix(la.Network(), "unix") {
				return peerCred(x)
			}
		}
	}
	return PeerCred{}, fmt.Errorf("%w (%T)", ErrNoPeerCred, last)
}

// credKey is the context key of a connection's PeerCred.
var credKey = &struct{ name string }{"windhover/unixsock peer credentials"}

// ConnContext returns a function for http.Server.ConnContext that reads the
// peer credentials of each new connection once, with [PeerCredFromConn],
// and puts them in the connection's context, where every request on it
// (HTTP/1.1 requests, and HTTP/2 streams, h2c included) finds them with
// [PeerCredFromContext]. A connection without credentials (a TCP one) gets
// none, and is otherwise served as usual.
//
// next, if not nil, is the ConnContext already set, to chain: it runs after
// the credentials are in the context, so it can read them too. Install it
// with
//
//	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
func ConnContext(next func(context.Context, net.Conn) context.Context) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		if cred, err := PeerCredFromConn(c); err == nil {
			ctx = context.WithValue(ctx, credKey, cred)
		}
		if next != nil {
			ctx = next(ctx, c)
		}
		return ctx
	}
}

// PeerCredFromContext returns the peer credentials [ConnContext] put in ctx
// (a request's context, say), and whether there were any.
func PeerCredFromContext(ctx context.Context) (PeerCred, bool) {
	cred, ok := ctx.Value(credKey).(PeerCred)
	return cred, ok
}
