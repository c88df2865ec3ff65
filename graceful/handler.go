package graceful

import (
	"net/http"
)

// Handler returns next counting its requests for [Group.Stats] and the
// [Report]: one atomic add as a request enters and two as it leaves. It
// neither wraps the ResponseWriter nor changes what next sees, so every
// optional interface of the writer stays as it was. Put it outermost, so
// that every request is counted.
func (g *Group) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		defer g.requestDone()
		next.ServeHTTP(w, r)
	})
}

func (g *Group) requestDone() {
	g.requests.Add(-1)
	g.served.Add(1)
	if State(g.state.Load()) >= StateStopping && !g.cut.Load() {
		g.completedAfter.Add(1)
	}
}
