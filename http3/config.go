package http3

import (
	"fmt"
	"time"
)

// Kestrel's QUIC defaults (QuicTransportOptions), where its HTTP/3 differs
// from quic-go's.
const (
	// DefaultMaxIncomingStreams is Kestrel's MaxBidirectionalStreamCount:
	// the requests a connection may have open at once.
	DefaultMaxIncomingStreams = 100
	// DefaultMaxIncomingUniStreams is Kestrel's
	// MaxUnidirectionalStreamCount: HTTP/3 needs three (control, QPACK
	// encoder and decoder).
	DefaultMaxIncomingUniStreams = 10
	// DefaultHandshakeIdleTimeout bounds a handshake's silences; quic-go
	// aborts a handshake that takes twice as long in all, which is then
	// Kestrel's HandshakeTimeout of 10 s.
	DefaultHandshakeIdleTimeout = 5 * time.Second
	// DefaultRetryAbove is the number of handshakes in progress above which
	// a new client must prove its address with a Retry first.
	DefaultRetryAbove = 100
)

// Config holds what HTTP/3 adds to the windhover.Config of the server it
// serves beside: QUIC's own limits. Its zero value is Kestrel's QUIC
// defaults. Everything else (the connection limit, the timeouts, the header
// limit, the certificates, the handler) comes from the hardened server.
type Config struct {
	// MaxIncomingStreams is the most request streams a connection may have
	// open at once (Kestrel's MaxBidirectionalStreamCount); a client that
	// wants more waits for QUIC's flow control to give it credit. Zero
	// means [DefaultMaxIncomingStreams]; negative is an error.
	MaxIncomingStreams int64

	// MaxIncomingUniStreams is the most unidirectional streams a
	// connection may have open at once. Zero means
	// [DefaultMaxIncomingUniStreams]; negative is an error.
	MaxIncomingUniStreams int64

	// HandshakeIdleTimeout is how long a handshake may go without a packet
	// from the client; it may take twice that in all. Zero means
	// [DefaultHandshakeIdleTimeout]; negative is an error.
	HandshakeIdleTimeout time.Duration

	// RetryAbove is how many handshakes may be in progress before a new
	// client must first prove that it receives at its address (a QUIC
	// Retry, RFC 9000 section 8.1.2), which costs it a round trip and stops
	// a flood from spoofed addresses from holding handshake state. Zero
	// means [DefaultRetryAbove]; negative means every new client is sent a
	// Retry.
	RetryAbove int

	// Port, if set, is the UDP port that Alt-Svc advertises on the TCP
	// responses, for a server behind a firewall that forwards another port
	// to it. Zero means the port it listens on.
	Port int
}

// settings are a Config checked, with its defaults in place.
type settings struct {
	streams, uniStreams int64
	handshake           time.Duration
	retryAbove          int64 // -1: always
	port                int
}

func (c Config) settings() (settings, error) {
	s := settings{
		streams:    c.MaxIncomingStreams,
		uniStreams: c.MaxIncomingUniStreams,
		handshake:  c.HandshakeIdleTimeout,
		retryAbove: int64(c.RetryAbove),
		port:       c.Port,
	}
	switch {
	case s.streams < 0:
		return s, fieldError("MaxIncomingStreams", s.streams, "must not be negative")
	case s.uniStreams < 0:
		return s, fieldError("MaxIncomingUniStreams", s.uniStreams, "must not be negative")
	case s.handshake < 0:
		return s, fieldError("HandshakeIdleTimeout", s.handshake, "must not be negative")
	case s.port < 0 || s.port > 65535:
		return s, fieldError("Port", s.port, "must be a UDP port")
	}
	if s.streams == 0 {
		s.streams = DefaultMaxIncomingStreams
	}
	if s.uniStreams == 0 {
		s.uniStreams = DefaultMaxIncomingUniStreams
	}
	if s.handshake == 0 {
		s.handshake = DefaultHandshakeIdleTimeout
	}
	switch {
	case s.retryAbove == 0:
		s.retryAbove = DefaultRetryAbove
	case s.retryAbove < 0:
		s.retryAbove = -1
	}
	return s, nil
}

func fieldError(field string, v any, why string) error {
	return fmt.Errorf("windhover/http3: Config.%s = %v: %s", field, v, why)
}
