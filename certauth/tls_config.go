package certauth

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/windhover/windhover/internal/alpn"
)

// TLSConfig returns a server configuration made from base (nil means an
// empty one) that asks for client certificates as p's modes say and
// validates them, or an error if it cannot do so without weakening base.
// base is cloned, not changed. Call it once per base; [Policy.Apply] calls
// it for an http.Server.
//
// Nothing that base sets is weakened or dropped:
//
//   - ClientAuth: every mode must ask at least what base asks, or TLSConfig
//     returns an error wrapping [ErrWeakerMode] that names both settings: a
//     base that requires certificates (RequireAnyClientCert,
//     RequireAndVerifyClientCert) needs RequireCertificate for the default
//     and every host in Config.Hosts, one that asks for them
//     AllowCertificate at least. Where base has crypto/tls verify the
//     certificates (VerifyClientCertIfGiven, RequireAndVerifyClientCert),
//     crypto/tls still does, against base's ClientCAs, before the policy
//     validates them against Config.ClientCAs: a certificate must pass both;
//   - ClientCAs is kept if set. If not, a mode that asks for certificates
//     sets it to Config.ClientCAs when only Chained certificates are
//     accepted (their names tell clients which certificate to send), and
//     leaves it nil otherwise (so that clients may offer self-signed ones);
//   - VerifyConnection and VerifyPeerCertificate still run, after the
//     policy's validation;
//   - GetConfigForClient still chooses the configuration, to which p's mode
//     for the server name is then applied; a configuration it returns that
//     asks more of clients than that mode fails the handshake with an error
//     wrapping [ErrWeakerMode];
//   - everything else, MinVersion, CipherSuites and the rest, is as base
//     has it.
//
// Certificates are validated by p in VerifyConnection, not by crypto/tls, so
// the connection's ConnectionState.VerifiedChains stays empty unless base
// had crypto/tls verify them: the verified chain is in the request's
// [Identity]. The package documentation says why.
//
// When a mode asks for client certificates, base must hold the server's own
// (Certificates, GetCertificate or GetConfigForClient), or TLSConfig returns
// an error wrapping [ErrNoServerCertificates]: the configurations of hosts
// under other modes than Config.Mode are clones of base made now, and a
// policy that asks for client certificates must not depend on how the
// server is started later. Load them with tls.LoadX509KeyPair into
// base.Certificates rather than give their files to ListenAndServeTLS.
//
// With per-host modes (Config.Hosts), the result chooses a configuration per
// server name in GetConfigForClient. Hosts under Config.Mode use the result
// itself (or the copy net/http serves); the others use those clones. Their
// NextProtos are base's, adjusted to the protocols the serving http.Server
// speaks, as net/http's ServeTLS adjusts its own copy, so that every host
// speaks HTTP/2 if the server does.
func (p *Policy) TLSConfig(base *tls.Config) (*tls.Config, error) {
	return p.tlsConfig(base, "tls.Config")
}

// Apply sets srv.TLSConfig to what [Policy.TLSConfig] makes of it, under its
// rules: it returns an error, and leaves srv unchanged, rather than weaken
// what srv.TLSConfig asks of clients. It also sets
// srv.DisableGeneralOptionsHandler, so that "OPTIONS *" requests reach
// srv.Handler, and so [Policy.Handler], instead of being answered by
// net/http before any handler. Call it once, before the server starts.
func (p *Policy) Apply(srv *http.Server) error {
	cfg, err := p.tlsConfig(srv.TLSConfig, "http.Server.TLSConfig")
	if err != nil {
		return err
	}
	srv.TLSConfig = cfg
	srv.DisableGeneralOptionsHandler = true
	return nil
}

// tlsConfig is TLSConfig for a base the user knows as name.
func (p *Policy) tlsConfig(base *tls.Config, name string) (*tls.Config, error) {
	if base == nil {
		base = &tls.Config{}
	}
	if err := p.checkBase(base, name); err != nil {
		return nil, err
	}
	cfg := base.Clone()
	def := p.hosts.def
	p.configure(cfg, def)
	userChoice := base.GetConfigForClient
	if userChoice == nil && !p.hosts.differs {
		return cfg, nil
	}
	var hc *hostConfigs
	if p.hosts.differs {
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
				if need := kept(c.ClientAuth); m < need {
					return nil, fmt.Errorf("%w: the tls.Config that GetConfigForClient returned for server name %q has ClientAuth = %v, stronger than its mode, %v",
						ErrWeakerMode, hello.ServerName, c.ClientAuth, m)
				}
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
	return cfg, nil
}

// checkBase returns an error if base, known to the user as name, cannot
// take p's modes without being weakened.
func (p *Policy) checkBase(base *tls.Config, name string) error {
	if p.hosts.asks() && len(base.Certificates) == 0 && base.GetCertificate == nil && base.GetConfigForClient == nil {
		return fmt.Errorf("%w: %s has no Certificates, GetCertificate or GetConfigForClient, but the policy asks clients for certificates; "+
			"load the server's with tls.LoadX509KeyPair into %s.Certificates (then ListenAndServeTLS(\"\", \"\") uses them)",
			ErrNoServerCertificates, name, name)
	}
	need := kept(base.ClientAuth)
	if p.hosts.def < need {
		return p.weakerMode(name, base.ClientAuth, "Config.Mode", p.hosts.def, need)
	}
	for _, e := range p.hosts.entries {
		if e.mode < need {
			return p.weakerMode(name, base.ClientAuth, "Config.Hosts["+quote(e.key)+"]", e.mode, need)
		}
	}
	return nil
}

// weakerMode is the error for a field of the Config whose mode m asks less
// of clients than ClientAuth ca of the configuration name.
func (p *Policy) weakerMode(name string, ca tls.ClientAuthType, field string, m, need Mode) error {
	also, keep := "", "requiring"
	if p.roots == nil && p.types&Chained != 0 {
		also = " (and Config.ClientCAs)"
	}
	if need == AllowCertificate {
		keep = "asking for"
	}
	return fmt.Errorf("%w: %s.ClientAuth = %v is stronger than %s = %v; set %s = %v%s to keep %s certificates",
		ErrWeakerMode, name, ca, field, m, field, need, also, keep)
}

// configure gives c mode m: its ClientAuth, its ClientCAs if it has none,
// and p's validation in front of c's own VerifyConnection. c asks no more of
// clients than m (checkBase).
func (p *Policy) configure(c *tls.Config, m Mode) {
	c.ClientAuth = m.clientAuth(c.ClientAuth)
	if m == NoCertificate {
		return
	}
	if c.ClientCAs == nil && p.types == Chained {
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
	h1, h2 := alpn.Served(srv)
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
	c.NextProtos = alpn.Adjust(c.NextProtos, h1, h2)
	hc.adjusted[m][i].Store(c)
	return c
}
