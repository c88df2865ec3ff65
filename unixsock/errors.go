package unixsock

import (
	"errors"
	"strconv"
)

// Errors of [Listen], [Activated] and [PeerCredFromConn], to test with
// errors.Is; the errors returned wrap them with the path or descriptor
// concerned.
var (
	// ErrInUse: a server answers on the socket path, another instance holds
	// its lock file, or a file appeared at the path while the socket was
	// being put there. Nothing at the path was touched.
	ErrInUse = errors.New("windhover/unixsock: socket address in use")
	// ErrNotSocket: the path names a file that is not a socket (a regular
	// file, a directory, a symbolic link, ...). It is never removed.
	ErrNotSocket = errors.New("windhover/unixsock: path exists and is not a socket")
	// ErrUnsafeDirectory: another user could replace what Listen puts in
	// the socket's directory, so Listen trusts no name there. The
	// directory belongs to a user other than the process's and root, or
	// its group or others may write to it and it lacks the sticky bit (the
	// error names its mode and owner); or, in a sticky directory, the lock
	// file is another user's; or a directory Listen was working in was
	// replaced while it did. Listen changed no file's mode or owner.
	ErrUnsafeDirectory = errors.New("windhover/unixsock: another user can replace files in the socket's directory")
	// ErrNotSupported: the operation needs a facility this platform lacks
	// (abstract sockets and peer credentials outside Linux, say).
	ErrNotSupported = errors.New("windhover/unixsock: not supported on this platform")
	// ErrNotActivated: the process was not started by systemd socket
	// activation: LISTEN_PID or LISTEN_FDS is unset, or LISTEN_PID names
	// another process. It is the cue to listen by other means.
	ErrNotActivated = errors.New("windhover/unixsock: not started by socket activation")
	// ErrNoPeerCred: the connection is not a Unix socket connection, or it
	// could not be reached through its wrappers, so it has no peer
	// credentials.
	ErrNoPeerCred = errors.New("windhover/unixsock: connection has no peer credentials")
	// ErrPeerNotAllowed: the peer's user and group are not among those a
	// [PeerFilter] admits.
	ErrPeerNotAllowed = errors.New("windhover/unixsock: peer not allowed")
)

// Reason names why a [PeerFilter] refused a request. Its String form is a
// stable snake_case label, fit for metrics and logs.
type Reason uint8

// The reasons.
const (
	// ReasonNoPeerCred: the request carries no peer credentials: it did not
	// arrive over a Unix socket, or the server's ConnContext was not set with
	// [ConnContext].
	ReasonNoPeerCred Reason = iota
	// ReasonPeerNotAllowed: the peer's user and group are not admitted.
	ReasonPeerNotAllowed

	numReasons
)

// NumReasons is the number of reasons, the length of [PeerStats.Rejected].
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonNoPeerCred:     "no_peer_cred",
	ReasonPeerNotAllowed: "peer_not_allowed",
}

var sentinels = [numReasons]error{
	ReasonNoPeerCred:     ErrNoPeerCred,
	ReasonPeerNotAllowed: ErrPeerNotAllowed,
}

// String returns the reason's snake_case label, such as "peer_not_allowed".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

func (r Reason) sentinel() error {
	if r < numReasons {
		return sentinels[r]
	}
	return errors.New("windhover/unixsock: " + r.String())
}

// PeerError is a refusal by a [PeerFilter]. It matches the sentinel of its
// Reason ([ErrNoPeerCred] or [ErrPeerNotAllowed]) with errors.Is.
type PeerError struct {
	Reason Reason
	// Cred is the peer's credentials; the zero PeerCred for
	// ReasonNoPeerCred.
	Cred PeerCred
}

// Error describes the refusal.
func (e *PeerError) Error() string {
	msg := e.Reason.sentinel().Error()
	if e.Reason == ReasonPeerNotAllowed {
		msg += " (" + e.Cred.String() + ")"
	}
	return msg
}

// Unwrap returns the reason's sentinel.
func (e *PeerError) Unwrap() error { return e.Reason.sentinel() }
