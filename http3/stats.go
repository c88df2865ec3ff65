package http3

// Stats is a snapshot of the QUIC connections' counters.
type Stats struct {
	// Open is the number of connections open, handshaking or not.
	Open int64
	// Handshaking is the number of those whose handshake is in progress.
	Handshaking int64
	// Accepted counts connection attempts given a slot.
	Accepted uint64
	// Refused counts connection attempts refused over the connection
	// limits (MaxConcurrentConnections, MaxConnectionsPerClient), which
	// the Limiter's Stats count too, with the TCP connections refused.
	Refused uint64
	// Retries counts the Retry packets asked for: clients made to prove
	// their address because too many handshakes were in progress. quic-go
	// drops those a burst brings beyond the 8 it queues; their clients
	// send their Initial packets again.
	Retries uint64
	// HandshakesFailed counts connections closed before their handshake
	// completed (a timeout, a refused certificate, a client that left).
	HandshakesFailed uint64
}

// Stats returns the counters. It is safe to call at any time.
func (h *Server) Stats() Stats {
	return Stats{
		Open:             h.cs.open.Load(),
		Handshaking:      h.cs.handshakes.Load(),
		Accepted:         h.cs.accepted.Load(),
		Refused:          h.cs.refused.Load(),
		Retries:          h.cs.retries.Load(),
		HandshakesFailed: h.cs.failed.Load(),
	}
}
