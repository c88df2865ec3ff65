package http3

import (
	"errors"
	"net"
)

// ErrConnectionLimit is the refusal of a QUIC connection over the hardened
// server's MaxConcurrentConnections.
var ErrConnectionLimit = errors.New("windhover/http3: connection refused: MaxConcurrentConnections reached")

// Error is a QUIC connection refused before any request: the error given to
// the windhover.Config's OnReject (with a nil request) and to the
// limits.Config's. windhover.RefusalOf describes it.
type Error struct {
	// Limit is the limit the connection found reached.
	Limit int
	// Addr is the client's address.
	Addr net.Addr
}

func (e *Error) Error() string {
	return ErrConnectionLimit.Error() + " (" + e.Addr.String() + ")"
}

// Unwrap returns [ErrConnectionLimit].
func (e *Error) Unwrap() error { return ErrConnectionLimit }

// Refused says that the limits of the server refused a connection, with no
// status: QUIC refuses it before any request, as Kestrel closes a TCP
// connection over the limit.
func (e *Error) Refused() (policy, reason string, status int) {
	return "limits", "connection_limit", 0
}
