package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/unixsock"
)

// endpoint is a listener, whether it serves TLS, and its URL.
type endpoint struct {
	ln  net.Listener
	tls bool
	url string
}

// newEndpoint is ln, serving TLS if tls is set and ln is not a Unix socket
// (a proxy in front of one terminates TLS).
func newEndpoint(ln net.Listener, tls bool) endpoint {
	tls = tls && ln.Addr().Network() != "unix"
	return endpoint{ln, tls, urlOf(ln.Addr(), tls)}
}

// urlOf is the URL of a listener's address: unix:/path, or http:// or
// https:// and the host and port.
func urlOf(a net.Addr, tls bool) string {
	switch {
	case a.Network() == "unix":
		return "unix:" + a.String()
	case tls:
		return "https://" + a.String()
	}
	return "http://" + a.String()
}

// listen opens what the hardened server h serves on, and returns the
// listeners to give to Run and their URLs: the sockets systemd passed by
// socket activation if it did, TCP ones serving TLS if the server has a
// certificate; otherwise the file's Kestrel.Endpoints, opened by h.Listen
// (Run serves them when it is given no listener), unless -addr or -unix is
// given; otherwise those -addr and -unix ask for.
func listen(st settings, h *windhover.Server, logger *slog.Logger) ([]net.Listener, []string, error) {
	tls := hasCertificate(st.cfg)
	eps, err := inherited(tls, logger)
	switch {
	case err != nil:
		return nil, nil, err
	case eps == nil && !st.flagListeners():
		bound, err := h.Listen()
		if err != nil {
			return nil, nil, err
		}
		urls := make([]string, len(bound))
		for i, b := range bound {
			urls[i] = b.URL()
		}
		return nil, urls, nil
	case eps == nil:
		if eps, err = flagEndpoints(st.options, tls, false); err != nil {
			return nil, nil, err
		}
	}
	lns := make([]net.Listener, len(eps))
	urls := make([]string, len(eps))
	for i, ep := range eps {
		lns[i], urls[i] = ep.ln, ep.url
		if !ep.tls {
			lns[i] = windhover.Plaintext(ep.ln)
		}
	}
	return lns, urls, nil
}

// hasCertificate reports whether cfg gives the server a certificate.
func hasCertificate(cfg windhover.Config) bool {
	return cfg.Certificate != (windhover.CertificateFiles{}) || len(cfg.SniCertificates) > 0
}

// flagEndpoints opens the listeners -addr and -unix ask for, the Unix socket
// by unixsock (mode 0660, a stale file replaced, a live one refused), or by
// net.Listen with bare.
func flagEndpoints(o options, tls, bare bool) ([]endpoint, error) {
	var eps []endpoint
	fail := func(err error) ([]endpoint, error) {
		for _, ep := range eps {
			ep.ln.Close()
		}
		return nil, err
	}
	if o.addr != "" {
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			return fail(err)
		}
		eps = append(eps, newEndpoint(ln, tls))
	}
	if o.unix != "" {
		var ln net.Listener
		var err error
		if bare {
			ln, err = net.Listen("unix", o.unix)
		} else {
			ln, err = unixsock.Listen(o.unix, unixsock.Config{Lock: true})
		}
		if err != nil {
			return fail(fmt.Errorf("-unix: %w", err))
		}
		eps = append(eps, newEndpoint(ln, false))
	}
	return eps, nil
}

// inherited returns every listening socket systemd passed, or nil if the
// server was not started by socket activation.
func inherited(tls bool, logger *slog.Logger) ([]endpoint, error) {
	ss, err := unixsock.Activated(true)
	switch {
	case errors.Is(err, unixsock.ErrNotActivated):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	var eps []endpoint
	for _, s := range ss {
		if s.Listener == nil {
			logger.Warn("ignoring an inherited socket that is not a listening stream socket", "name", s.Name, "fd", s.FD)
			_ = s.Close()
			continue
		}
		ep := newEndpoint(s.Listener, tls)
		logger.Info("inherited from systemd", "name", s.Name, "fd", s.FD, "url", ep.url)
		eps = append(eps, ep)
	}
	if len(eps) == 0 {
		return nil, errors.New("systemd socket activation passed no listening socket")
	}
	return eps, nil
}
