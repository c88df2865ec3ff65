package certauth

import (
	"crypto/tls"
	"net/http"
	"slices"
	"sync/atomic"
)

// TLSConfig returns a server configuration made from base (nil means an
// empty one) that asks for client certificates as p's modes say and
// validates them. base is cloned, not changed, and everything set on it is
// kept except ClientAuth, which the mode decides, and ClientCAs, which
// becomes Config.ClientCAs when only Chained certificates are accepted (their
// names tell clients which certificate to send) and nil otherwise (so that
// clients may offer self-signed ones). A VerifyConnection or
// VerifyPeerCertificate of base still runs, after p's validation; a
// GetConfigForClient of base still chooses the configuration, to which p's
// mode for the server name is then applied. Call it once per base.
//
// Certificates are validated by p in VerifyConnection, not by crypto/tls, so
// the connection's ConnectionState.VerifiedChains stays empty: the verified
// chain is in the request's [Identity]. The package documentation says why.
//
// With per-host modes (Config.Hosts), the result chooses a configuration per
// server name in GetConfigForClient. Hosts under Config.Mode use the result
// itself (or the copy net/http serves); the others use clones of base made
// now, which is why base must hold the server's certificates (Certificates,
// GetCertificate or GetConfigForClient), not certFile and keyFile given to
// http.Server.ListenAndServeTLS: TLSConfig panics otherwise. Their
// NextProtos are base's, adjusted to the protocols the serving
// http.Server speaks, as net/http's ServeTLS adjusts its own copy, so that
// every host speaks HTTP/2 if the server does.
func (p *Policy) TLSConfig(base *tls.Config) *tls.Config {
	if base == nil {
		base = &tls.Config{}
	}
	cfg := base.Clone()
	def := p.hosts.def
	p.configure(cfg, def)
	userChoice := base.GetConfigForClient
	if userChoice == nil && !p.hosts.differs {
		return cfg
	}
	var hc *hostConfigs
	if p.hosts.differs {
		if userChoice == nil && len(base.Certificates) == 0 && base.GetCertificate == nil {
			panic("certauth: TLSConfig: per-host modes need the server's certificates in the base config (Certificates or GetCertificate)")
		}
		hc = new(hostConfigs)
		for m := range numModes {
			c := base.Clone()
			c.GetConfigForClient = nil
			p.configure(c, m)
			hc.base[m] = c
		}
	}
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		m := p.hosts.lookup(hello.ServerName)
		if userChoice != nil {
			c, err := userChoice(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				c = c.Clone()
				p.configure(c, m)
				return c, nil
			}
		}
		if m == def {
			return nil, nil
		}
		return hc.forServer(m, hello), nil
	}
	return cfg
}

// Apply sets srv.TLSConfig to p.TLSConfig(srv.TLSConfig). Call it once,
// before the server starts.
func (p *Policy) Apply(srv *http.Server) {
	srv.TLSConfig = p.TLSConfig(srv.TLSConfig)
}

// configure gives c mode m: its ClientAuth, its ClientCAs, and p's
// validation in front of c's own VerifyConnection.
func (p *Policy) configure(c *tls.Config, m Mode) {
	c.ClientAuth = m.clientAuth()
	if m == NoCertificate {
		return
	}
	c.ClientCAs = nil
	if p.types == Chained {
		c.ClientCAs = p.roots
	}
	user := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := p.verifyConnection(cs, m); err != nil {
			return err
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
}

// verifyConnection validates the certificate of a handshake, full or
// resumed, under mode m.
func (p *Policy) verifyConnection(cs tls.ConnectionState, m Mode) error {
	if len(cs.PeerCertificates) == 0 {
		if m != RequireCertificate {
			return nil
		}
		// crypto/tls itself refuses a full handshake without a certificate,
		// and resuming a session without one; this is the last guard.
		err := &Error{Reason: ReasonNoCertificate, Handshake: true, ServerName: cs.ServerName}
		p.reject(nil, err)
		return err
	}
	if _, err := p.validate(cs.PeerCertificates, false, p.now()); err != nil {
		err.Handshake, err.ServerName = true, cs.ServerName
		p.reject(nil, err)
		return err
	}
	p.handshakesAccepted.Add(1)
	return nil
}

// hostConfigs are the configurations of the modes other than the default,
// per mode and per set of protocols of the serving http.Server.
type hostConfigs struct {
	base     [numModes]*tls.Config
	adjusted [numModes][4]atomic.Pointer[tls.Config]
}

// forServer returns the configuration of mode m for the http.Server that
// accepted the connection, if any.
func (hc *hostConfigs) forServer(m Mode, hello *tls.ClientHelloInfo) *tls.Config {
	srv, _ := hello.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return hc.base[m]
	}
	h1 := srv.Protocols == nil || srv.Protocols.HTTP1()
	h2 := srv.TLSNextProto["h2"] != nil && (srv.Protocols == nil || srv.Protocols.HTTP2())
	i := 0
	if h1 {
		i |= 1
	}
	if h2 {
		i |= 2
	}
	if c := hc.adjusted[m][i].Load(); c != nil {
		return c
	}
	c := hc.base[m].Clone()
	c.NextProtos = adjustNextProtos(c.NextProtos, h1, h2)
	hc.adjusted[m][i].Store(c)
	return c
}

// adjustNextProtos does to protos what net/http's ServeTLS does to the
// NextProtos of the configuration it serves: it drops "http/1.1" and "h2"
// if the server does not speak them, and appends them if it does.
func adjustNextProtos(protos []string, h1, h2 bool) []string {
	protos = slices.DeleteFunc(slices.Clone(protos), func(s string) bool {
		return s == "http/1.1" && !h1 || s == "h2" && !h2
	})
	if h2 && !slices.Contains(protos, "h2") {
		protos = append(protos, "h2")
	}
	if h1 && !slices.Contains(protos, "http/1.1") {
		protos = append(protos, "http/1.1")
	}
	return protos
}
