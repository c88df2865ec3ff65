package main

import (
	"net"
)

// endpoint is a listener and whether it serves TLS.
type endpoint struct {
	ln  net.Listener
	tls bool
	url string
}

// listen opens the listeners the options ask for and wraps each with wrap,
// if not nil.
func listen(o options, wrap func(net.Listener) net.Listener) ([]endpoint, error) {
	if wrap == nil {
		wrap = func(ln net.Listener) net.Listener { return ln }
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
		scheme := "http"
		if o.tlsCert != "" {
			scheme = "https"
		}
		eps = append(eps, endpoint{wrap(ln), o.tlsCert != "", scheme + "://" + ln.Addr().String()})
	}
	if o.unix != "" {
		ln, err := net.Listen("unix", o.unix)
		if err != nil {
			return fail(err)
		}
		eps = append(eps, endpoint{wrap(ln), false, "unix:" + o.unix})
	}
	return eps, nil
}
