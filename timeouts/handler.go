package timeouts

import (
	"net/http"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/pattern"
	"github.com/windhover/windhover/internal/reqbody"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/stripe"
)

// Handler returns next with its request bodies and responses held to p's
// minimum data rates.
//
// Each request gets a wrapped ResponseWriter, with exactly the optional
// interfaces of the original and an Unwrap method for
// http.ResponseController; a request with a body gets a shallow copy whose
// Body is timed, and whose Pattern, set by a ServeMux further in, is set on
// the original when next returns, as if the ServeMux had been handed it. Writes larger than 64 KiB, and copies into the response
// (io.Copy, which keeps sendfile), are timed in 64 KiB chunks. A hijacked
// connection is no longer policed. Rates can be changed per request with
// [SetMinRequestBodyDataRate] and [SetMinResponseDataRate].
//
// Over HTTP/1, a body the handler left unread never holds the response or
// the connection (see the package documentation). A plaintext HTTP/1 request
// whose connection did not come through [Policy.Listener], on a server with
// [Policy.Apply], is counted in [Stats.UntimedRequests]. An "OPTIONS *" request
// that reaches the handler is answered as net/http's built-in handler would,
// unless next is another windhover policy, which then answers it; its body is
// read under the request body rate.
func (p *Policy) Handler(next http.Handler) http.Handler {
	return &handler{p: p, next: next, last: star.Last(next)}
}

type handler struct {
	p     *Policy
	next  http.Handler
	last  bool // next is not a windhover policy: answer "OPTIONS *" here
	share bool // give the composition the time read as next returned, take its cell: clock.Share
	guard star.Guard
}

// ShareReadings makes the handler give the composition around it the time it
// reads once next has returned, when it reads one, so that the outermost
// policy ends the request's duration at it, and count the request in the
// counter cell the outermost read on arrival (see clock.Readings). Only a
// composition that knows nothing between the two does work after next
// returns that should be timed can call it.
func (h *handler) ShareReadings(clock.Trust) { h.share = true }

// HandlesOptionsStar tells windhover's other handlers that this one deals
// with "OPTIONS *".
func (*handler) HandlesOptionsStar() {}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	h.guard.Check(r, "timeouts")
	var shared *clock.Readings
	if h.share {
		shared = rw.ReadingsOf(w)
	}
	var cell int
	if shared != nil {
		cell = shared.Cell
	} else {
		cell = stripe.Here()
	}
	p.policed.Add(cell, 1)
	p.active.Add(cell, 1)
	defer p.active.Add(cell, -1) // down where it went up: not a new stripe.Here
	if p.wire != nil && r.ProtoMajor == 1 && untimedBy(r.Context(), p) {
		p.untimedRequest(r)
	}

	var q *request
	hasBody := !reqbody.None(r)
	if !hasBody {
		q = getRequest()
		q.r = r
		defer q.recycle() // after finish, deferred below
	} else {
		br := &bodyRequest{req: *r}
		q = &br.request
		br.body = body{rc: r.Body, q: q}
		br.req.Body = &br.body
		q.r, q.b = &br.req, &br.body
		defer pattern.HandBack(r, q.r)
	}
	q.p, q.in, q.out, q.h2 = p, p.in, p.out, r.ProtoMajor >= 2 // HTTP/3's streams too
	if p.out.IsOff() {
		q.outOff.Store(true) // a request's state starts cleared: false
	}
	var deadlines bool
	q.knownBuffer, deadlines = inspect(w)
	q.w.Reset(w, q)
	q.w.SetChunkSize(chunkSize)
	q.shared = shared
	if !deadlines {
		q.reach(r, hasBody)
	}
	if p.keepServer {
		q.serverLimits(r)
	}
	defer q.finish()
	if h.last && star.Is(r) {
		q.star = true
		star.Answer(q.w.ResponseWriter(), q.r)
		return
	}
	h.next.ServeHTTP(q.w.ResponseWriter(), q.r)
}
