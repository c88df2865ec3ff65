package metrics

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/pattern"
	"github.com/windhover/windhover/internal/reqbody"
	"github.com/windhover/windhover/internal/rw"
	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/stripe"
)

// Handler returns next measured: http_server_request_duration_seconds and
// http_server_active_requests for every request, and with
// [Config.RequestSizes] the body size histograms.
//
// The duration runs from the moment the Handler is called until next
// returns; in the chain windhover.Harden builds, until the application
// returns to the timeouts policy inside it, which reads the clock then for
// both (the bookkeeping of windhover's own handlers on the way back out is
// left out). The status is the first final status next wrote (1xx other than
// 101 are not final), 200 if it wrote nothing, none if it hijacked the
// connection without writing one; a next that panics is recorded with the
// status it wrote, or 500. The route is the pattern of the http.ServeMux that
// served the request, without its method, found on the request the Handler
// was given: windhover's handlers that copy the request set the Pattern back
// on it (see [Metrics.Route] for middleware that copies the request and does
// not, and [Metrics.RouteFunc] for routers that set no Pattern).
//
// next gets a ResponseWriter with exactly the optional interfaces of the
// original (http.Flusher, http.Hijacker, io.ReaderFrom, http.Pusher) and an
// Unwrap method, so http.ResponseController works through it. The request is
// handed on as is, unless RequestSizes is on and it has a body: then next
// gets a shallow copy whose Body counts the bytes read, and whose Pattern is
// set back on the original when next returns. A request costs one
// allocation. With [Config.Exemplar] set, the duration is observed with the
// exemplar it returns.
//
// On a server under [Metrics.Apply], the Handler also tells m each
// connection's protocol version, and follows the connections its handlers
// hijack until they close.
//
// An "OPTIONS *" request (which [Metrics.Apply] routes to the server's
// Handler) is measured like any other; when next is not one of windhover's
// handlers, the Handler answers it itself, as net/http would (200, empty),
// rather than hand the application's router a request it would refuse.
func (m *Metrics) Handler(next http.Handler) http.Handler {
	return &handler{m: m, next: next, last: star.Last(next)}
}

type handler struct {
	m     *Metrics
	next  http.Handler
	last  bool // next is not a windhover handler: answer "OPTIONS *" here
	share bool // share the clock's readings and the cell with the composition: clock.Share
	guard star.Guard
}

// ShareReadings makes the handler share its reading of the clock on arrival,
// and the counter cell it counts the request in, with the policies inside
// it, and end the duration at the time the innermost one read as the
// application returned, when it read one (see clock.Readings). Only a
// composition that knows every handler in between can call it.
func (h *handler) ShareReadings(clock.Trust) { h.share = true }

// HandlesOptionsStar marks the handler as one that deals with "OPTIONS *".
func (*handler) HandlesOptionsStar() {}

// request is the state of one request in the Handler.
type request struct {
	rw.NopHooks
	w        rw.Writer
	m        *Metrics
	conn     *conn
	route    string
	readings clock.Readings // shared with the composition, if it shares
	routed   bool           // Route or RouteFunc set route
	raw      bool           // route is a route already (RouteFunc), not a ServeMux pattern
	done     bool           // next returned
}

// requests pools the state of the requests whose body is not counted: most
// requests, which need no copy of the request to hand on. A sizedRequest is
// not pooled, since the copy handed on may be kept past the handler's return
// (a goroutine that waits for its context to end, say).
var requests sync.Pool

// getRequest returns a cleared request from the pool, or a new one.
func getRequest() *request {
	if q, ok := requests.Get().(*request); ok {
		return q
	}
	return new(request)
}

// recycle clears q, whose handler has returned and whose finish has run,
// and gives it back to the pool.
func (q *request) recycle() {
	*q = request{}
	requests.Put(q)
}

// sizedRequest is the state of a request whose body bytes are counted.
type sizedRequest struct {
	request
	req  http.Request
	body countingBody
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := clock.Nanos()
	m := h.m
	method, scheme := methodIndex(r.Method), schemeIndex(r)
	active := m.activeRequests(method, scheme)
	cell := stripe.Here()
	active.n.Add(cell, 1)
	// Down last, after finish, so that a scrape that sees the request gone
	// sees its duration; in the cell where it went up (cell, not a new
	// stripe.Here: the goroutine may have moved since).
	defer active.n.Add(cell, -1)

	var q *request
	var body *countingBody
	inner := r
	if m.s.requestSizes && !reqbody.None(r) {
		s := &sizedRequest{req: *r}
		s.body.rc = r.Body
		s.req.Body = &s.body
		q, body, inner = &s.request, &s.body, &s.req
	} else {
		q = getRequest()
		defer q.recycle() // after finish, deferred below
	}
	q.m = m
	proto := protocolIndex(r.ProtoMajor, r.ProtoMinor)
	if q.conn = m.connFrom(r.Context()); q.conn != nil {
		q.conn.request(r, proto)
	}
	q.w.Reset(w, q)
	if h.share {
		q.readings = clock.Readings{Arrived: start, Cell: cell}
		q.w.SetReadings(&q.readings)
	}
	if inner != r {
		defer pattern.HandBack(r, inner)
	}
	defer q.finish(inner, body, start, key{method: method, scheme: scheme, proto: proto}, cell)
	h.guard.Check(r, "metrics")
	if h.last && star.Is(r) {
		star.Answer(q.w.ResponseWriter(), inner)
	} else {
		h.next.ServeHTTP(q.w.ResponseWriter(), inner)
	}
	q.done = true
}

// finish records the request; it runs even if next panics. cell is the
// request's cell of the striped series (stripe.Here on arrival): most often
// still its processor's.
func (q *request) finish(r *http.Request, body *countingBody, start int64, k key, cell int) {
	end := q.readings.Returned
	if end == 0 {
		end = clock.Nanos()
	}
	d := time.Duration(end - start)
	if q.conn != nil {
		q.conn.requestDone(k.proto, q.w.Hijacked())
	}
	k.status = q.w.Status()
	if k.status == 0 && !q.w.Hijacked() {
		k.status = http.StatusOK
		if !q.done {
			k.status = http.StatusInternalServerError
		}
	}
	k.pattern = r.Pattern
	if q.routed {
		k.pattern, k.raw = q.route, q.raw
	}
	s := q.m.seriesFor(cell, k)
	if f := q.m.s.exemplar; f != nil {
		observeWithExemplar(s.duration, d.Seconds(), f(r.Context()))
	} else {
		s.striped.observe(cell, d.Seconds())
	}
	if s.requestSize != nil {
		var n int64
		if body != nil {
			n = body.n
		}
		s.requestSize.Observe(float64(n))
		s.responseSize.Observe(float64(q.w.Written()))
	}
}

// Hijacked follows a connection hijacked through the Handler.
func (q *request) Hijacked(c net.Conn) net.Conn {
	return q.m.upgraded(c, q.conn)
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

// Read reads from the body and counts the bytes.
func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

// Close closes the body.
func (b *countingBody) Close() error { return b.rc.Close() }

// Route returns next reporting, to the [Metrics.Handler] of m that the
// request went through, the pattern of the router that served it, read from
// the request's Pattern after next returns.
//
// It is needed only where the Handler cannot see that pattern: the Handler
// reads the Pattern of its own request, which a ServeMux sets on the request
// it is handed and windhover's own handlers (limits, timeouts, certauth, which
// hand on a copy of a request) set back on theirs; but a middleware of the
// application's that hands on a copy of the request (r.WithContext, as
// tracing and logging middleware do, or http.StripPrefix) hides it, and so
// does a router that copies the request before it routes (chi). Wrap the
// ServeMux itself with Route, or, in chi, add it as the router's middleware:
//
//	h := m.Handler(tracing(m.Route(mux)))
//	cr.Use(m.Route)                        // chi sets the Pattern of its own copy
//
// Route finds the Handler's state through the ResponseWriter, without
// allocating; outside a Handler of m it does nothing.
func (m *Metrics) Route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if q, ok := rw.Find[*request](w); ok && q.m == m {
			q.route, q.routed, q.raw = r.Pattern, true, false
		}
	})
}

// RouteFunc returns next reporting, to the [Metrics.Handler] of m that the
// request went through, the route route(r) returns once next has returned,
// for routers that do not set the request's Pattern. The route must be a
// template, one of a bounded set, never the path: each value is a series.
// An empty route leaves the label out. With gorilla/mux, as the router's
// middleware, where the matched route is known:
//
//	gr.Use(m.RouteFunc(func(r *http.Request) string {
//		t, _ := mux.CurrentRoute(r).GetPathTemplate()
//		return t
//	}))
//
// The route is reported as it is: unlike a ServeMux pattern, no method is
// cut from it. Like [Metrics.Route], it does nothing outside a Handler of m.
// It panics if route is nil.
func (m *Metrics) RouteFunc(route func(r *http.Request) string) func(http.Handler) http.Handler {
	if route == nil {
		panic("metrics: RouteFunc with a nil route")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if q, ok := rw.Find[*request](w); ok && q.m == m {
				q.route, q.routed, q.raw = route(r), true, true
			}
		})
	}
}
