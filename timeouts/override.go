package timeouts

import (
	"net/http"
	"time"

	"github.com/windhover/windhover/internal/rw"
)

// SetMinRequestBodyDataRate replaces the minimum rate for the rest of this
// request's body, from inside its handler, before or while it reads: [Off]
// switches it off (a streaming upload), the zero Rate restores the Policy's.
// Time and bytes already counted stay counted, and the credit a client has
// banked is bounded anew by the new rate. w is the ResponseWriter the
// handler received, or one that wraps it with an Unwrap method.
func SetMinRequestBodyDataRate(w http.ResponseWriter, rate Rate) error {
	return setRate(w, rate, false)
}

// SetMinResponseDataRate replaces the minimum rate for the rest of this
// response: [Off] switches it off (server-sent events, long polling), the
// zero Rate restores the Policy's. It applies from the next write.
func SetMinResponseDataRate(w http.ResponseWriter, rate Rate) error {
	return setRate(w, rate, true)
}

func setRate(w http.ResponseWriter, rate Rate, response bool) error {
	if err := rate.validate("Rate"); err != nil {
		return err
	}
	q, ok := rw.Find[*request](w)
	if !ok {
		return ErrNotPoliced
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if response {
		if rate == (Rate{}) {
			rate = q.p.out
		}
		q.out = rate.withDefaults()
		q.outOff.Store(q.out.IsOff())
		return nil
	}
	if rate == (Rate{}) {
		rate = q.p.in
	}
	q.in = rate.withDefaults()
	if q.in.IsOff() {
		return nil
	}
	// A lower rate makes the credit worth more time: no more than the new
	// rate lets a client bank.
	q.inCredit = min(q.inCredit, q.in.creditLimit(q.inTime))
	if !q.readStart.IsZero() {
		// A Read in progress (from another goroutine) is held to the
		// new rate at once.
		now := time.Now()
		q.readBy = q.in.readDeadline(now, q.inCredit, q.inTime+now.Sub(q.readStart))
		q.arm(now, q.readBy)
	}
	return nil
}
