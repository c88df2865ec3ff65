package metrics

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/windhover/windhover/internal/alpn"
	"github.com/windhover/windhover/internal/clock"
)

// TLSConfig returns a clone of cfg whose handshakes m measures, on servers
// under [Metrics.Apply]: windhover_tls_handshake_duration_seconds and
// windhover_active_tls_handshakes. Give it to the server before it starts,
// as http.Server.TLSConfig or to tls.NewListener. A nil cfg is an empty one.
//
// A handshake runs from the connection's accept, as in Kestrel, to the
// server's verification of it (tls.Config.VerifyConnection), and is labelled
// with the TLS version. That is the server's part of the work: over TLS 1.3
// the client's last flight, which may still refuse the server's certificate,
// follows, so a handshake is recorded once its outcome is known, at the
// connection's first request or at its close. One that fails is recorded at
// the close, with error_type "no_client_hello" if no ClientHello arrived
// (the client spoke something other than TLS, left, or timed out) and
// "handshake_failed" if one did (no common version or cipher, a certificate
// the client or the server refused); its connection is recorded with
// error_type "tls_handshake_failed". windhover_active_tls_handshakes counts
// the handshakes accepted and not yet verified or failed.
//
// The clone's GetConfigForClient calls cfg's own first, so that a per-host
// choice of configuration keeps working, and hands the handshake a copy of
// the configuration chosen, or else of the clone, whose VerifyConnection
// calls the chosen one's and then notes the end. A copy of the clone offers
// the protocols the serving http.Server speaks ("h2", "http/1.1"), as
// ServeTLS's own configuration would; the clone must hold the certificates: http.Server.ServeTLS and ListenAndServeTLS load
// certificate files into a copy of their own, out of m's reach, so give them
// empty file names and put the certificates in cfg. (With certificate files,
// or without a certificate in the clone, handshakes proceed unchanged and
// unmeasured: they count in the active gauge until they settle, and only
// their failures are recorded.)
func (m *Metrics) TLSConfig(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = new(tls.Config)
	}
	m.tlsMeasured.Store(true)
	out := cfg.Clone()
	chain := out.GetConfigForClient
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		rec := m.connFrom(hello.Context())
		measured := rec != nil && rec.hello()
		var chosen *tls.Config
		if chain != nil {
			c, err := chain(hello)
			if err != nil {
				return nil, err
			}
			chosen = c
		}
		if !measured {
			return chosen, nil
		}
		if chosen == nil {
			if len(out.Certificates) == 0 && out.GetCertificate == nil {
				return nil, nil
			}
			chosen = out
		}
		own := chosen.Clone()
		own.GetConfigForClient = nil
		if chosen == out {
			// It replaces the configuration ServeTLS prepared, whose
			// NextProtos Go 1.27 no longer writes back into out.
			if srv, ok := hello.Context().Value(http.ServerContextKey).(*http.Server); ok {
				own.NextProtos = alpn.For(srv, own.NextProtos)
			}
		}
		verify := own.VerifyConnection
		own.VerifyConnection = func(cs tls.ConnectionState) error {
			if verify != nil {
				if err := verify(cs); err != nil {
					return err
				}
			}
			rec.verified(cs)
			return nil
		}
		return own, nil
	}
	return out
}

// TLS handshake progress of a connection.
const (
	handshakeNone     uint8 = iota // not TLS, or not measured
	handshakeStarted               // accepted, no ClientHello seen
	handshakeHello                 // ClientHello seen by TLSConfig's hook
	handshakeVerified              // VerifyConnection passed; awaiting the outcome
	handshakeDone                  // settled
)

// hello notes that the connection's ClientHello has arrived and reports
// whether its handshake is being measured.
func (rec *conn) hello() bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.handshake != handshakeStarted {
		return false
	}
	rec.handshake = handshakeHello
	return true
}

// verified notes the server's verification of the handshake: the end of its
// duration, if the handshake completes.
func (rec *conn) verified(cs tls.ConnectionState) {
	now := clock.Nanos()
	v := tlsVersionIndex(cs.Version)
	rec.tlsVer.Store(uint32(v))
	if cs.NegotiatedProtocol == "h2" {
		rec.proto.CompareAndSwap(uint32(protoUnknown), uint32(proto2))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.handshake == handshakeHello {
		rec.handshake = handshakeVerified
		rec.verifiedIn = time.Duration(now - rec.start)
		rec.m.activeHandshakes.WithLabelValues(rec.labels()...).Dec()
	}
}

// settle records the outcome of a handshake not yet settled: ok if it
// completed, or it failed by now. A TLS 1.3 server verifies before the
// client's last flight, which may still refuse the server's certificate, so
// the outcome waits for the connection's next step: a request (success) or
// its close (either). rec.mu is held.
func (rec *conn) settle(ok bool, now int64) {
	switch rec.handshake {
	case handshakeNone, handshakeDone:
		return
	}
	rec.tlsFailed = !rec.observe(ok, now)
	rec.handshake = handshakeDone
	rec.state.Or(stateSettled)
}

// observe records the handshake's outcome in the metrics, and reports
// whether it completed. rec.mu is held.
func (rec *conn) observe(ok bool, now int64) bool {
	m := rec.m
	switch rec.handshake {
	case handshakeVerified:
		if ok {
			m.handshakeDuration.WithLabelValues(transports[rec.transport], networkTypes[rec.netType], tlsVersions[rec.tlsVer.Load()], "").Observe(rec.verifiedIn.Seconds())
			return true
		}
	default: // not verified: failed, or completed out of TLSConfig's sight
		m.activeHandshakes.WithLabelValues(rec.labels()...).Dec()
		if ok {
			return true
		}
	}
	errorType := "handshake_failed"
	if rec.handshake == handshakeStarted {
		errorType = "no_client_hello"
	}
	m.handshakeDuration.WithLabelValues(transports[rec.transport], networkTypes[rec.netType], tlsVersions[rec.tlsVer.Load()], errorType).Observe(time.Duration(now - rec.start).Seconds())
	return false
}
