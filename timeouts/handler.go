package timeouts

import (
	"net/http"
)

// Handler returns next with its request bodies and responses held to p's
// minimum data rates.
//
// Each request gets a wrapped ResponseWriter, with exactly the optional
// interfaces of the original and an Unwrap method for
// http.ResponseController; a request with a body gets a shallow copy whose
// Body is timed. Writes larger than 64 KiB, and copies into the response
// (io.Copy, which keeps sendfile), are timed in 64 KiB chunks. A hijacked
// connection is no longer policed. Rates can be changed per request with
// [SetMinRequestBodyDataRate] and [SetMinResponseDataRate].
func (p *Policy) Handler(next http.Handler) http.Handler {
	return &handler{p: p, next: next}
}

type handler struct {
	p    *Policy
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	p.policed.Add(1)
	p.active.Add(1)
	defer p.active.Add(-1)

	var q *request
	if r.Body == nil || r.Body == http.NoBody {
		q = &request{r: r}
	} else {
		br := &bodyRequest{req: *r}
		q = &br.request
		br.body = body{rc: r.Body, q: q}
		br.req.Body = &br.body
		q.r = &br.req
	}
	q.p, q.in, q.out, q.h2 = p, p.in, p.out, r.ProtoMajor == 2
	q.knownBuffer = knownBuffer(w)
	q.w.Reset(w, q)
	q.w.SetChunkSize(chunkSize)
	defer q.finish()
	h.next.ServeHTTP(q.w.ResponseWriter(), q.r)
}
