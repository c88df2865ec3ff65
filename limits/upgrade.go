package limits

import (
	"net"
	"net/http"
	"strings"

	"github.com/windhover/windhover/internal/rw"
)

// isUpgrade reports whether r asks to switch protocols: an HTTP/1.1 request
// with an Upgrade field and "upgrade" among its Connection options (a
// WebSocket handshake, say), or an HTTP/2 extended CONNECT (RFC 8441), which
// net/http accepts when GODEBUG=http2xconnect=1. An upgrade to h2c alone is
// none: net/http does not take it (RFC 9113 dropped it), and serves the
// request as HTTP/1.1, as curl --http2 sends it to an http:// URL.
//
// A request with a body (a Content-Length over 0, or a Transfer-Encoding,
// which net/http reports as a ContentLength of -1) is never an upgrade, as
// in Kestrel (Http1Connection's IsUpgradableRequest): the bytes after its
// head are its body, not the new protocol's. It is served as any request,
// under the body limit, and takes no upgrade slot.
func isUpgrade(r *http.Request) bool {
	if r.ProtoMajor == 2 {
		return isTunnel(r)
	}
	if !r.ProtoAtLeast(1, 1) || r.ContentLength != 0 || len(r.Header["Upgrade"]) == 0 || onlyH2C(r.Header["Upgrade"]) {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for v != "" {
			var opt string
			opt, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(opt), "upgrade") {
				return true
			}
		}
	}
	return false
}

// isTunnel reports whether r is an HTTP/2 extended CONNECT, whose request
// body is the tunnel's stream from the client rather than a body.
func isTunnel(r *http.Request) bool {
	return r.ProtoMajor == 2 && r.Method == http.MethodConnect && r.Header[":protocol"] != nil
}

// onlyH2C reports whether the Upgrade field values name h2c and nothing else.
func onlyH2C(values []string) bool {
	seen := false
	for _, v := range values {
		for v != "" {
			var proto string
			proto, v, _ = strings.Cut(v, ",")
			switch proto = strings.TrimSpace(proto); {
			case proto == "":
			case strings.EqualFold(proto, "h2c"):
				seen = true
			default:
				return false
			}
		}
	}
	return seen
}

// upgradeRequest is the state of an upgrade request that holds a slot.
type upgradeRequest struct {
	rw.NopHooks
	w      rw.Writer
	l      *Limiter
	handed bool // the slot went to the hijacked connection
}

// Hijacked hands the request's upgrade slot to the connection: a connection
// from a Limiter listener leaves its connection pool for it, any other is
// wrapped so that its Close releases the slot.
func (u *upgradeRequest) Hijacked(c net.Conn) net.Conn {
	u.handed = true
	if lc := findConn(c); lc != nil && lc.upgrade(u.l) {
		return c
	}
	return &upgradedConn{Conn: c, l: u.l}
}

// serveUpgrade runs an upgrade request if an upgrade slot is free, and
// answers 503 without running the handler otherwise.
func (l *Limiter) serveUpgrade(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if l.s.maxUpgrades < 0 {
		l.refuseRequest(w, r, &Error{Reason: ReasonUpgradesDisabled, Limit: 0, Size: -1})
		return
	}
	if !l.upgrades.acquire() {
		l.refuseRequest(w, r, &Error{Reason: ReasonUpgradeLimit, Limit: l.s.maxUpgrades, Size: -1})
		return
	}
	u := &upgradeRequest{l: l}
	defer func() {
		if !u.handed {
			l.upgrades.release()
		}
	}()
	u.w.Reset(w, u)
	next.ServeHTTP(u.w.ResponseWriter(), r)
}
