package certauth

import (
	"net/http"

	"github.com/windhover/windhover/internal/pattern"
	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/star"
)

// Handler returns next behind p's per-request checks, in this order:
//
//   - over TLS with per-host modes, a request whose Host is under a mode that
//     its connection's handshake, chosen by the server name (SNI), did not
//     apply gets 421 Misdirected Request: a Host that requires a certificate
//     on a connection without one, or a Host that asks for one on a
//     connection whose handshake did not. Clients retry a 421 on a new
//     connection, whose handshake then follows the Host's policy;
//   - the connection's certificate is validated again, from the cache, so
//     that a certificate that expires, or is revoked by a reloaded CRL,
//     during a long-lived connection is refused on its next request: 403,
//     and the connection is closed (over HTTP/2 with a GOAWAY, once its
//     other streams end);
//   - the forwarded-certificate header is believed only from a trusted
//     proxy, and removed from the request of anyone else. A forwarded
//     certificate that is malformed or fails validation gets 403; the
//     proxy's connection stays open unless the refused request has a body
//     over HTTP/1, which, as with every refusal, is not read: the
//     connection closes instead. From a trusted proxy, only the forwarded
//     certificate is the client's: the proxy's own, which its connection
//     may carry, is checked but never taken for the client's.
//
// Requests that did not come over TLS had no handshake, so modes do not
// apply to them; guard routes with [Policy.Require]. A request with a
// validated certificate reaches next with its [Identity]
// in the context ([FromRequest]), in a copy of the request whose Pattern, set
// by a ServeMux further in, is set on the original when next returns, as if
// the ServeMux had been handed it; other requests reach it unchanged, without
// allocating. Every refusal is counted in [Policy.Stats] and reported to
// Config.OnReject. The ResponseWriter is not wrapped.
//
// An "OPTIONS *" request that passes is handed on to next if next is another
// windhover handler, and otherwise answered here as net/http's built-in
// handler would (200, empty), so that the application's router never meets
// it. net/http answers such requests itself, before any handler, unless
// http.Server.DisableGeneralOptionsHandler is set ([Policy.Apply] sets it);
// the first request through a server that does not set it logs one warning
// through slog's default logger. The same holds for [Policy.Require].
func (p *Policy) Handler(next http.Handler) http.Handler {
	return &handler{p: p, next: next, last: star.Last(next)}
}

// Require returns next behind the checks of [Policy.Handler], and answers
// 403 Forbidden to any request that does not carry a validated certificate,
// as ASP.NET's certificate authentication answers on a route that requires
// it. Use it for the routes that need a certificate on hosts that allow
// one. Behind a certauth Handler that already validated the request's
// certificate it checks nothing again.
func (p *Policy) Require(next http.Handler) http.Handler {
	return &handler{p: p, next: next, require: true, last: star.Last(next)}
}

type handler struct {
	p       *Policy
	next    http.Handler
	require bool
	last    bool // next is not a windhover handler: answer "OPTIONS *" here
	guard   star.Guard
}

// HandlesOptionsStar marks the handler as one that answers "OPTIONS *"
// itself when it is the last windhover handler.
func (h *handler) HandlesOptionsStar() {}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "certauth")
	if FromRequest(r) == nil {
		id, err := h.p.check(r, h.require)
		if err != nil {
			h.p.refuse(w, r, err)
			return
		}
		if id != nil {
			inner := withIdentity(r, id)
			defer pattern.HandBack(r, inner)
			r = inner
		}
	}
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// Check applies the checks of [Policy.Handler] to r and returns the identity
// of its validated certificate, nil if it carries none, or an [*Error] whose
// Reason.Status() is the status the Handler would answer with. Like the
// Handler it removes an untrusted peer's forwarded-certificate header from
// r, counts its decisions and reports refusals to Config.OnReject. It is for
// callers that answer refusals themselves.
func (p *Policy) Check(r *http.Request) (*Identity, error) {
	id, err := p.check(r, false)
	if err != nil {
		p.reject(r, err)
		return nil, err
	}
	return id, nil
}

// check validates what r carries and counts what it accepts; refusals are
// left to the caller.
func (p *Policy) check(r *http.Request, require bool) (*Identity, *Error) {
	var id *Identity
	if cs := r.TLS; cs != nil {
		if p.hosts.differs {
			if err := p.misdirected(r); err != nil {
				return nil, err
			}
		}
		if len(cs.PeerCertificates) > 0 {
			var err *Error
			if id, err = p.validate(cs.PeerCertificates, false, p.now()); err != nil {
				err.ServerName, err.connection = cs.ServerName, true
				return nil, err
			}
		}
	}
	// The peer is asked about once, and only if its answer matters: it sent
	// the header, or it may be a trusted proxy presenting its own certificate.
	values, sent := r.Header[p.header]
	if sent || id != nil && !p.proxies.IsZero() {
		if p.proxies.Trusts(r) {
			id = nil // a trusted proxy's own certificate is never the client's
			switch {
			case len(values) > 1:
				return nil, &Error{Reason: ReasonMalformed, Forwarded: true, Err: errForwardedMultiple}
			case len(values) == 1 && values[0] != "":
				var err *Error
				if id, err = p.forwarded(values[0], p.now()); err != nil {
					return nil, err
				}
			}
		} else if sent {
			delete(r.Header, p.header)
			p.forwardedIgnored.Add(1)
		}
	}
	if id == nil {
		if require {
			return nil, &Error{Reason: ReasonNoCertificate}
		}
		return nil, nil
	}
	p.accepted.Add(1)
	if id.Forwarded {
		p.forwardedAccepted.Add(1)
	}
	return id, nil
}

// misdirected refuses a request whose Host is under a mode its connection's
// handshake did not apply: a Host that requires a certificate on a
// connection without one, or a Host that allows one on a connection whose
// server name's mode asked for none (looked up only then).
func (p *Policy) misdirected(r *http.Request) *Error {
	cs := r.TLS
	switch p.hosts.lookup(hostOnly(r.Host)) {
	case RequireCertificate:
		if len(cs.PeerCertificates) > 0 {
			return nil
		}
	case AllowCertificate:
		if p.hosts.lookup(cs.ServerName) != NoCertificate {
			return nil
		}
	default:
		return nil
	}
	return &Error{Reason: ReasonMisdirected, Host: r.Host, ServerName: cs.ServerName}
}

// refuse counts err and answers it. A connection whose own certificate
// failed is closed after the answer: every request on it would fail the same
// way, and a new connection gets a new handshake. net/http's HTTP/2 server
// takes "Connection: close" to mean a GOAWAY, and closes the connection once
// its streams are done. A refused request's unread body closes an HTTP/1
// connection too, rather than be read.
func (p *Policy) refuse(w http.ResponseWriter, r *http.Request, err *Error) {
	p.reject(r, err)
	if err.connection {
		w.Header().Set("Connection", "close")
	}
	refuse.SkipBody(w, r)
	code := err.Reason.Status()
	http.Error(w, http.StatusText(code), code)
}
