package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/windhover/windhover/unixsock"
)

// endpoint is a listener, whether it serves TLS, and its URL.
type endpoint struct {
	ln  net.Listener
	tls bool
	url string
}

func newEndpoint(o options, ln net.Listener) endpoint {
	if ln.Addr().Network() == "unix" {
		return endpoint{ln, false, "unix:" + ln.Addr().String()}
	}
	if o.tlsCert != "" {
		return endpoint{ln, true, "https://" + ln.Addr().String()}
	}
	return endpoint{ln, false, "http://" + ln.Addr().String()}
}

// listen returns the listeners to serve on: those systemd passed by socket
// activation if it did (TCP ones serve TLS with -tls-cert), otherwise those
// -addr and -unix ask for, the Unix socket opened by unixsock (mode 0660, a
// stale file replaced, a live one refused). With bare, only -addr and -unix
// count, and the socket is opened by net.Listen.
func listen(o options, bare bool, logger *slog.Logger) ([]endpoint, error) {
	if !bare {
		ss, err := unixsock.Activated(true)
		switch {
		case err == nil:
			return inherited(o, ss, logger)
		case !errors.Is(err, unixsock.ErrNotActivated):
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
	}
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
		eps = append(eps, newEndpoint(o, ln))
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
		eps = append(eps, newEndpoint(o, ln))
	}
	return eps, nil
}

// inherited serves on every listening socket systemd passed.
func inherited(o options, ss unixsock.Sockets, logger *slog.Logger) ([]endpoint, error) {
	var eps []endpoint
	for _, s := range ss {
		if s.Listener == nil {
			logger.Warn("ignoring an inherited socket that is not a listening stream socket", "name", s.Name, "fd", s.FD)
			_ = s.Close()
			continue
		}
		ep := newEndpoint(o, s.Listener)
		logger.Info("inherited from systemd", "name", s.Name, "fd", s.FD, "url", ep.url)
		eps = append(eps, ep)
	}
	if len(eps) == 0 {
		return nil, errors.New("systemd socket activation passed no listening socket")
	}
	return eps, nil
}
