package http3

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/quic-go/quic-go"
	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover"
)

// Server serves a hardened windhover.Server's handler over HTTP/3, on a UDP
// socket, under the server's lifecycle. Build it with [New] before the
// windhover.Server runs.
type Server struct {
	h3  *qhttp3.Server
	tr  *quic.Transport
	ln  *quic.EarlyListener
	cs  *conns
	met *quicMetrics
	tls *tls.Config            // the handshakes'
	alt atomic.Pointer[string] // the Alt-Svc value, once serving

	serveErr chan error    // serving's end: its error, or nil after a drain
	served   chan struct{} // closed when serving has ended
}

// New serves s over HTTP/3 on pc beside its TCP listeners: the same
// handler (every policy of s's chain), the same certificates and client
// certificate policy, per server name; the limits of s's Config mapped onto
// QUIC (see the package documentation); and the same lifecycle: it starts
// when s's [windhover.Server.Run] (or its Group's Run) does, and drains with
// it. New also makes s's TLS responses advertise HTTP/3 (Alt-Svc).
//
// Call New once for s, before s runs, and with a socket of its own: pc
// belongs to the Server from then on, and is closed with it. s must serve
// TLS: its TLSConfig must hold a certificate (windhover.Config.Certificate,
// say).
func New(s *windhover.Server, pc net.PacketConn, cfg Config) (*Server, error) {
	st, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if pc == nil {
		return nil, errors.New("windhover/http3: New: no net.PacketConn")
	}
	srv := s.HTTPServer()
	tc := srv.TLSConfig
	if tc == nil || len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		return nil, errors.New("windhover/http3: New: the server has no certificate: HTTP/3 needs TLS (give windhover.Config.Certificate, or the server's TLSConfig a certificate)")
	}
	wcfg := s.Config()
	h := &Server{serveErr: make(chan error, 1), served: make(chan struct{})}
	h.met = newQUICMetrics(wcfg.Metrics)
	h.cs = &conns{acquire: s.Limiter().AcquireConnection, retryAbove: st.retryAbove, met: h.met}
	h.tr = &quic.Transport{
		Conn:                pc,
		VerifySourceAddress: h.cs.verifySourceAddress,
		ConnContext:         h.cs.connContext,
	}
	// Kestrel's KeepAliveTimeout and RequestHeadersTimeout, as the
	// timeouts policy put them on srv (stricter values of srv's own kept).
	h.h3 = &qhttp3.Server{
		Handler:           counting{srv.Handler},
		TLSConfig:         tc,
		MaxHeaderBytes:    srv.MaxHeaderBytes,
		IdleTimeout:       srv.IdleTimeout,
		ReadHeaderTimeout: srv.ReadHeaderTimeout,
		Port:              st.port,
		QUICConfig: &quic.Config{
			HandshakeIdleTimeout:  st.handshake,
			MaxIdleTimeout:        srv.IdleTimeout,
			MaxIncomingStreams:    st.streams,
			MaxIncomingUniStreams: st.uniStreams,
			Allow0RTT:             false,
		},
	}
	// The server's configuration with "h3" as the only protocol, also in
	// those its GetConfigForClient chooses per server name; cloned now,
	// before net/http, serving, writes its own protocols into it.
	h.tls = qhttp3.ConfigureTLSConfig(tc)
	srv.Handler = &altSvc{next: srv.Handler, h: h}
	addDrain(s.Group(), h)
	return h, nil
}

// serve listens, tells started whether it could, and serves until the
// drain; then it sends the error that stopped it, nil after the drain, to
// serveErr. The lifecycle calls it once.
func (h *Server) serve(started chan<- error) {
	defer close(h.served)
	ln, err := h.tr.ListenEarly(h.tls, h.h3.QUICConfig)
	if err != nil {
		h.closeSocket()
		started <- err
		return
	}
	h.ln = ln
	port := h.h3.Port
	if a, ok := h.tr.Conn.LocalAddr().(*net.UDPAddr); ok && port == 0 {
		port = a.Port
	}
	if port != 0 {
		// Kestrel's value (quic-go's SetQUICHeaders says 30 days).
		v := fmt.Sprintf(`%s=":%d"; ma=86400`, qhttp3.NextProtoH3, port)
		h.alt.Store(&v)
	}
	started <- nil
	err = h.h3.ServeListener(listener{ln})
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	} else {
		// Not a drain: nothing else will close them.
		_ = h.h3.Close()
		h.closeSocket()
	}
	h.serveErr <- err
}

// closeSocket closes the QUIC transport and its socket.
func (h *Server) closeSocket() {
	_ = h.tr.Close()
	_ = h.tr.Conn.Close()
}

// Addr returns the UDP address the server listens on.
func (h *Server) Addr() net.Addr { return h.tr.Conn.LocalAddr() }
