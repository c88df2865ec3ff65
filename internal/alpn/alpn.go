// Package alpn tells which application protocols an http.Server serves over
// TLS, for the packages that hand a handshake a tls.Config of their own from
// GetConfigForClient: that configuration replaces the one ServeTLS prepared,
// NextProtos included, so it must offer what the server would have offered.
//
// Go 1.26 added "h2" and "http/1.1" to the server's own TLSConfig in place;
// Go 1.27 adds them to ServeTLS's copy only, so a configuration derived from
// the server's TLSConfig lacks them there and would silently turn HTTP/2 off.
package alpn

import (
	"net/http"
	"slices"
)

// Served reports whether srv answers HTTP/1.1 and HTTP/2 on a TLS
// connection, as net/http decides it: srv.Protocols if set (empty meaning
// HTTP/1 alone), and HTTP/2 only once the server has set it up, which
// leaves a handler in TLSNextProto["h2"] on every release since Go 1.6.
func Served(srv *http.Server) (h1, h2 bool) {
	h1, h2 = true, true
	if p := srv.Protocols; p != nil && (p.HTTP1() || p.HTTP2() || p.UnencryptedHTTP2()) {
		h1, h2 = p.HTTP1(), p.HTTP2()
	} else if p != nil {
		h2 = false
	}
	return h1, h2 && srv.TLSNextProto["h2"] != nil
}

// Adjust does to protos what ServeTLS does to the NextProtos of the
// configuration it serves: "http/1.1" and "h2" are dropped if the server
// does not speak them and appended if it does; other protocols keep their
// place. protos itself is never changed.
func Adjust(protos []string, h1, h2 bool) []string {
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

// For is Adjust for the protocols srv serves.
func For(srv *http.Server, protos []string) []string {
	h1, h2 := Served(srv)
	return Adjust(protos, h1, h2)
}
