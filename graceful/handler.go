package graceful

import (
	"net/http"

	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/stripe"
)

// Handler returns next counting its requests for [Group.Stats] and the
// [Report]: one atomic add as a request enters and two as it leaves. Put it
// outermost, so that every request is counted.
//
// Handler also tells the clients to go while the group stops: from the
// stop on, except for a moment at the end of the drain delay (see the
// package documentation), it sets "Connection: close" in the response
// header before next runs. net/http then closes an HTTP/1 connection after
// the response, and starts a graceful shutdown of an HTTP/2 connection:
// GOAWAY, then the close once its streams are done. A handler that sets
// another Connection value or deletes it keeps its connection open until
// the drain closes it. HTTP/3 requests (ProtoMajor 3) are left alone, as
// that field is not allowed there.
//
// Handler does not wrap the ResponseWriter, so every optional interface of
// the writer stays as it was.
//
// "OPTIONS *" is counted like any request; in front of no other windhover
// handler, Handler answers it as net/http's built-in handler would. It
// reaches Handler only on a server with DisableGeneralOptionsHandler, which
// every windhover Apply sets; on another server Handler logs one warning.
func (g *Group) Handler(next http.Handler) http.Handler {
	return &handler{g: g, next: next, last: star.Last(next)}
}

// handler is what Handler returns.
type handler struct {
	g     *Group
	next  http.Handler
	last  bool // next is not a windhover handler: answer "OPTIONS *" here
	guard star.Guard
}

// HandlesOptionsStar says that the handler counts "OPTIONS *" like any
// request and, in front of no other windhover handler, answers it as
// net/http would (see the windhover package documentation).
func (h *handler) HandlesOptionsStar() {}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.g
	cell := stripe.Here()
	g.requests.Add(cell, 1)
	defer g.requestDone(cell) // down where it went up: not a new stripe.Here
	if g.tellClose.Load() && r.ProtoMajor < 3 {
		// net/http closes an HTTP/1 connection after such a response and
		// turns it into a graceful GOAWAY on HTTP/2; HTTP/3 forbids the
		// field.
		w.Header().Set("Connection", "close")
	}
	h.guard.Check(r, "graceful")
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// requestDone counts a request through Handler done: cell is where it went
// up (stripe.Counter.Add).
func (g *Group) requestDone(cell int) {
	g.requests.Add(cell, -1)
	g.served.Add(cell, 1)
	if State(g.state.Load()) >= StateStopping && !g.cut.Load() {
		g.completedAfter.Add(1)
	}
}
