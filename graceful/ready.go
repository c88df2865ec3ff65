package graceful

import (
	"io"
	"net/http"
)

// ReadyHandler returns a handler for a load balancer's readiness checks: it
// answers 200 until the stop begins and 503 from that moment on, through the
// drain delay and the drain, so that the balancer stops sending new clients
// while the requests it already sent finish. The body is the state's name
// and a newline ("serving", "stopping", ...); the response is not to be
// cached.
//
// Mount it on a path of its own, on a server of the group or another one.
// Liveness is another question: a stopping server is alive.
func (g *Group) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := State(g.state.Load())
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if state >= StateStopping {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, state.String()+"\n")
	})
}
