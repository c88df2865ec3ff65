package limits

import (
	"context"
	"errors"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Quota is a token bucket: Burst tokens at most, refilled at Rate tokens a
// second. A request takes one token.
type Quota struct {
	// Rate is the sustained request rate, in tokens a second.
	Rate rate.Limit
	// Burst is the bucket's size: the most requests allowed at once.
	Burst int
}

// ErrInvalidQuota is returned by [MemoryStore.Allow] for a Quota whose Rate
// is not positive and finite, whose Burst is not positive, or whose bucket
// would take over a century to fill.
var ErrInvalidQuota = errors.New("windhover/limits: quota rate must be positive and finite, burst positive, and the bucket must fill within a century")

// century bounds a bucket's fill time, and the durations computed from it.
const century = 100 * 365 * 24 * time.Hour

func (q Quota) valid() bool {
	return q.Rate > 0 && q.Rate != rate.Inf && !math.IsNaN(float64(q.Rate)) && q.Burst > 0 &&
		float64(q.Burst)/float64(q.Rate) <= century.Seconds()
}

// fillTime is how long an empty bucket takes to fill up.
func (q Quota) fillTime() time.Duration { return q.duration(float64(q.Burst)) }

// duration is how long tokens take to accrue, at most a century.
func (q Quota) duration(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	s := tokens / float64(q.Rate)
	if s >= century.Seconds() {
		return century
	}
	return time.Duration(s * float64(time.Second))
}

// decision describes a bucket holding tokens after a request was allowed
// (having taken its token) or refused.
func (q Quota) decision(allowed bool, tokens float64) Decision {
	d := Decision{Allowed: allowed, Reset: q.duration(float64(q.Burst) - tokens)}
	if tokens >= 1 {
		d.Remaining = int(tokens)
	}
	if !allowed {
		d.RetryAfter = max(q.duration(1-tokens), time.Nanosecond)
	}
	return d
}

// Decision is a [Store]'s answer for one request.
type Decision struct {
	// Allowed reports whether the request may proceed; if so it took a token.
	Allowed bool
	// Remaining is the number of whole tokens left in the bucket.
	Remaining int
	// Reset is how long until the bucket is full again, if no more requests
	// come.
	Reset time.Duration
	// RetryAfter is, for a refused request, how long until a token is
	// available; zero when allowed.
	RetryAfter time.Duration
}

// Store keeps the token buckets of a [RateLimiter], one per key: the
// in-memory [MemoryStore] by default, or a shared one (Redis, say) so that
// several servers enforce one limit.
//
// Allow takes a token from key's bucket for a request made at now, if one is
// left, creating the bucket full if the key is new, and reports the bucket's
// state. q is the same for every call from one RateLimiter; a store shared by
// limiters with different quotas must be given distinct keys by them. A store
// over the network uses ctx, the request's context, to bound its round trip,
// and may use its own clock instead of now. An error means no decision: the
// RateLimiter answers 503 (ReasonRateStoreFailed). A store that would rather
// let requests through while its backend is down returns an allowing Decision
// instead. Allow must be safe for concurrent use.
type Store interface {
	Allow(ctx context.Context, key string, q Quota, now time.Time) (Decision, error)
}
