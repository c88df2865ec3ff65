package metrics

import (
	"crypto/tls"
	"time"
)

// TLSConfig returns a clone of cfg whose handshakes m measures, on servers
// under [Metrics.Apply]: windhover_tls_handshake_duration_seconds and
// windhover_active_tls_handshakes. Give it to the server before it starts,
// as http.Server.TLSConfig or to tls.NewListener. A nil cfg is an empty one.
//
// A handshake runs from the connection's accept, as in Kestrel, to its
// verification (tls.Config.VerifyConnection, just before the client's last
// Finished message), and is labelled with the TLS version. One that fails
// ends when net/http closes the connection, with error_type
// "no_client_hello" if no ClientHello arrived (the client spoke something
// other than TLS, left, or timed out) and "handshake_failed" if one did (no
// common version or cipher, a certificate the client or the server refused).
//
// The clone's GetConfigForClient calls cfg's own first, so a per-host choice
// of configuration keeps working, and then hands the handshake a copy of the
// configuration chosen, or of the clone, with a VerifyConnection that calls
// the chosen one's and then records the end. That copy is taken from the
// clone itself, so the clone must hold the certificates: give
// http.Server.ServeTLS and ListenAndServeTLS empty file names and put the
// certificates in cfg (a certificate file they load goes into a copy out of
// m's sight, and such handshakes are counted in the active gauge but not
// measured). Changes net/http makes to the clone in place, adding "h2" to
// NextProtos, are seen.
func (m *Metrics) TLSConfig(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = new(tls.Config)
	}
	m.tlsMeasured.Store(true)
	out := cfg.Clone()
	chain := out.GetConfigForClient
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var chosen *tls.Config
		if chain != nil {
			c, err := chain(hello)
			if err != nil {
				return nil, err
			}
			chosen = c
		}
		rec := m.connFrom(hello.Context())
		if rec == nil || !rec.hello() {
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

// verified ends a measured handshake in success.
func (rec *conn) verified(cs tls.ConnectionState) {
	d := time.Since(rec.start)
	rec.mu.Lock()
	measured := rec.handshake == handshakeHello
	rec.handshake = handshakeDone
	rec.mu.Unlock()
	v := tlsVersionIndex(cs.Version)
	rec.tlsVer.Store(uint32(v))
	if cs.NegotiatedProtocol == "h2" {
		rec.proto.CompareAndSwap(uint32(protoUnknown), uint32(proto2))
	}
	if measured {
		m := rec.m
		m.activeHandshakes.WithLabelValues().Dec()
		m.handshakeDuration.WithLabelValues(tlsVersions[v], "").Observe(d.Seconds())
	}
}

// handshakeFailed records a handshake that ended with its connection.
func (m *Metrics) handshakeFailed(d time.Duration, sawHello bool) {
	errorType := "no_client_hello"
	if sawHello {
		errorType = "handshake_failed"
	}
	m.activeHandshakes.WithLabelValues().Dec()
	m.handshakeDuration.WithLabelValues("", errorType).Observe(d.Seconds())
}
