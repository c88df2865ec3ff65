package clock

import "net/http"

// Readings are the readings of the clock that the policies of one
// composition share, so that a request reads the clock twice instead of once
// in each policy that needs the time, and the processor's counter cell once
// instead of once in each policy that counts.
//
// Sharing is sound only where every handler between the one that reads and
// the one that uses the reading is known not to wait: otherwise a reading
// taken on arrival is stale by the time a policy behind a queue or an
// authentication call decides with it, and a reading taken as the
// application returns misses whatever a middleware between does after it.
// So no policy shares unless a composition that built the whole chain turned
// sharing on with [Share]; windhover.Harden does, for the chain it builds.
type Readings struct {
	// Arrived is read by the outermost sharing policy (metrics) as the
	// request reaches it, as [Nanos] reads it. The next one in (the rate
	// limiter) decides with it. Zero stands for none.
	Arrived int64

	// Returned is read by the innermost sharing policy (timeouts) once the
	// application has returned, when that policy needs the time anyway, as
	// [Nanos] reads it; zero until then. The outermost ends the request's
	// duration at it.
	Returned int64

	// Cell is the counter cell (internal/stripe.Here) the outermost sharing
	// policy read on arrival, which the policies inside use instead of
	// looking for their processor again: timeouts counts the request in it,
	// the rate limiter takes the MemoryStore's read lock it picks. A cell is
	// a hint for speed only, so a stale one (the goroutine moved to another
	// processor since, after a wait in the concurrency limiter's queue, say)
	// costs a shared cache line, never a wrong count.
	Cell int
}

// Late tells the outermost policy that work it must time was done after
// Returned was read (a refusal counted and reported to a callback, say), so
// that it reads the clock itself again. It does nothing on a nil p.
func (p *Readings) Late() {
	if p != nil {
		p.Returned = 0
	}
}

// Trust is the proof a handler's ShareReadings method asks for: a value only
// this module can name, so only the module's own compositions can turn
// sharing on.
type Trust struct{ _ struct{} }

// sharer is a policy's handler that can share the readings of the
// composition around it.
type sharer interface{ ShareReadings(Trust) }

// Share turns on the sharing of readings in h, if h is a handler that can
// take part, and reports whether it was. Only a composition that knows every
// handler between its sharers (see [Readings]) may call it, before it serves.
func Share(h http.Handler) bool {
	s, ok := h.(sharer)
	if ok {
		s.ShareReadings(Trust{})
	}
	return ok
}
