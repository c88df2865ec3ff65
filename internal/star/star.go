// Package star routes "OPTIONS *" requests through windhover's policies.
//
// net/http answers "OPTIONS *" (RFC 9110, section 9.3.7: a question about
// the server as a whole) with a built-in handler before the server's Handler
// runs, unless http.Server.DisableGeneralOptionsHandler is set: no policy sees
// it, so a forbidden Host, a client over its rate or a body trickled a byte a
// minute pass untouched. Every windhover Apply therefore sets that field, and
// every windhover handler, once its own checks pass, hands such a request on
// only to another windhover handler: the innermost one answers it itself, as
// net/http's built-in handler would ([Answer]), so that the application's
// router (ServeMux answers it 400) never sees it.
package star

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// Is reports whether r is an "OPTIONS *" request.
func Is(r *http.Request) bool {
	return r.RequestURI == "*" && r.Method == http.MethodOptions
}

// Policy is implemented by windhover's handlers. Its method does nothing:
// having it says that the handler deals with "OPTIONS *" as this package
// says, so that the handler in front of it need not answer for it.
type Policy interface {
	HandlesOptionsStar()
}

// Last reports whether a handler in front of next must answer "OPTIONS *"
// itself: next is not one of windhover's handlers.
func Last(next http.Handler) bool {
	_, ok := next.(Policy)
	return !ok
}

// maxBody is what net/http's built-in handler reads of an "OPTIONS *" body,
// a size RFC 9110 reserves for future use: more is a waste or an attack.
const maxBody = 4 << 10

// Answer answers r as net/http's built-in handler does: 200 with an empty
// body, after reading at most 4 KiB of r's body; over that, the read fails
// and the connection closes (http.MaxBytesReader). The body is read through
// whatever the policies in front put on it, so their limits and rates hold:
// if one of them fails the read (a body too slow, or over its limit), Answer
// writes nothing, and that policy's answer (408, 413) goes out.
func Answer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 && r.Body != nil {
		_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		var tooLarge *http.MaxBytesError
		if err != nil && (!errors.As(err, &tooLarge) || tooLarge.Limit != maxBody) {
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Guard reports, once, a server that answers "OPTIONS *" itself, before the
// policy that holds the Guard could see it. The zero Guard is ready to use.
type Guard struct {
	checked atomic.Bool
}

// Check looks, on the first request only, at the server r came through; if
// it answers "OPTIONS *" with net/http's built-in handler, Check logs one
// warning through slog's default logger naming pkg and the fix. It costs one
// atomic load after the first request.
func (g *Guard) Check(r *http.Request, pkg string) {
	if g.checked.Load() || !g.checked.CompareAndSwap(false, true) {
		return
	}
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv.DisableGeneralOptionsHandler {
		return
	}
	slog.Warn("windhover/"+pkg+": the server answers \"OPTIONS *\" before its Handler, so "+pkg+" never sees those requests; "+
		"set http.Server.DisableGeneralOptionsHandler (every windhover Apply sets it)",
		slog.String("server", srv.Addr))
}
