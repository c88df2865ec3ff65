package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/limits"
	"golang.org/x/time/rate"
)

// Client runs the Store's script on Redis: the two commands it needs, in a
// shape every Go client can give in a few lines. [Rueidis] adapts a rueidis
// client; windhover's benchmarks module has the adapter for go-redis (a
// *redis.Client, *redis.ClusterClient, *redis.Ring or
// redis.UniversalClient), goredis_client_test.go, thirty lines.
//
// Both run a script with one key and args, and return its reply, an array of
// two integers. The error of EvalSha for a script the server does not know
// must have Redis's message as its text ("NOSCRIPT ..."), as every client's
// does. A Client must honour ctx's deadline, and be safe for concurrent use.
type Client interface {
	// EvalSha runs EVALSHA sha1 1 key args...
	EvalSha(ctx context.Context, sha1, key string, args []string) ([2]int64, error)
	// Eval runs EVAL script 1 key args..., which also loads the script.
	Eval(ctx context.Context, script, key string, args []string) ([2]int64, error)
}

// Mode is what a Store does when Redis fails to answer within the timeout.
type Mode int

const (
	// Fallback decides with a local in-memory bucket per key, at this
	// instance's share of the quota: Rate/Instances, and Burst/Instances
	// rounded up. The limit holds, approximately, while Redis is away.
	Fallback Mode = iota
	// FailOpen allows every request, with a Decision a full bucket would
	// give (Remaining Burst-1, Reset 0).
	FailOpen
	// FailClosed returns an error, which the RateLimiter answers with 503
	// (limits.ReasonRateStoreFailed).
	FailClosed
	numModes
)

var modeNames = [numModes]string{"fallback", "fail_open", "fail_closed"}

// String returns the mode's name as the metrics give it: "fallback",
// "fail_open" or "fail_closed".
func (m Mode) String() string {
	if m < 0 || m >= numModes {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// Defaults of Config's zero fields.
const (
	DefaultTimeout       = 50 * time.Millisecond
	DefaultProbeInterval = 250 * time.Millisecond
)

// Config configures a [Store]. The zero Config is usable: keys under
// [DefaultPrefix], a 50 ms timeout, and, when Redis fails, a local bucket at
// the whole quota (one instance) until a probe every 250 ms finds it back.
type Config struct {
	// Prefix begins every key. Empty means [DefaultPrefix]. Give limiters
	// with different quotas on one Redis prefixes of their own. A hash tag
	// in it ("{rate}:") puts every key on one Cluster slot, which is
	// seldom wanted.
	Prefix string

	// Timeout bounds each call to Redis, within the request's own deadline.
	// Zero means [DefaultTimeout]; negative is an error. Keep it well
	// under a request's budget: it is the delay every request may pay when
	// Redis stops answering.
	Timeout time.Duration

	// Mode is what to do when Redis fails: [Fallback], the zero value,
	// [FailOpen] or [FailClosed].
	Mode Mode

	// Instances is the number of instances sharing the limit, for
	// [Fallback]'s share of it. Zero means 1, each instance keeping the
	// whole quota locally: never stricter than intended, up to Instances
	// times looser. Negative is an error.
	Instances int

	// MaxKeys bounds the keys of Fallback's in-memory store. Zero means
	// limits.DefaultMaxKeys; negative is an error.
	MaxKeys int

	// ProbeInterval is how long, after a failure, the Store decides by its
	// Mode without asking Redis; then one request asks it again, and if it
	// answers, every request does. Zero means [DefaultProbeInterval];
	// negative is an error. It spares a Redis that is down (or an instance
	// that cannot reach it) a timeout per request.
	ProbeInterval time.Duration

	// OnFailure, if set, is called with each call to Redis that gave no
	// decision: its reason and Redis's (or the context's) error. Between
	// probes Redis is not called, so a Redis that is down costs a call a
	// probe interval, not one a request. It must be quick and safe for
	// concurrent use.
	OnFailure func(reason FailureReason, err error)
}

// ErrUnavailable is the cause of the errors a [FailClosed] Store returns
// while Redis fails or is thought down between probes: errors.Is finds it,
// and the error wraps Redis's own as well when there is one.
var ErrUnavailable = errors.New("windhover/redisstore: redis unavailable")

// Store is a [limits.Store] on Redis, shared by every instance that uses the
// same Redis and prefix: each key's bucket is one Redis key, read and
// written by one script in one round trip (EVALSHA; EVAL when the server
// has forgotten the script), atomically and by the server's clock. Its
// Decisions are a [limits.MemoryStore]'s for the same bucket, so a
// [limits.RateLimiter] sends the same RateLimit and Retry-After fields.
//
// When Redis fails to answer within Config.Timeout the Store decides by
// Config.Mode, and keeps doing so without asking Redis until a probe every
// Config.ProbeInterval finds it back; each outcome is counted in [Stats].
// A Store starts no goroutine and is safe for concurrent use.
type Store struct {
	c         Client
	prefix    string
	timeout   time.Duration
	mode      Mode
	instances int
	probe     int64 // ProbeInterval, in nanoseconds
	onFailure func(FailureReason, error)
	fallback  *limits.MemoryStore
	start     time.Time // the origin of retryAt's monotonic clock
	// retryAt is, while Redis is thought down, when a request may next ask
	// it, in nanoseconds since start; 0 while it is up.
	retryAt atomic.Int64
	args    atomic.Pointer[quotaArgs] // the last Quota's
	fbArgs  atomic.Pointer[fbQuota]   // the last Quota's share, for Fallback
	counters
}

// fbQuota is a Quota and this instance's share of it.
type fbQuota struct{ q, share limits.Quota }

// New returns a Store that runs its script through c, or an error naming the
// first invalid field of cfg.
func New(c Client, cfg Config) (*Store, error) {
	switch {
	case c == nil:
		return nil, errors.New("windhover/redisstore: New: nil Client")
	case cfg.Timeout < 0:
		return nil, configError("Timeout", cfg.Timeout, "must not be negative (0 means DefaultTimeout)")
	case cfg.Mode < 0 || cfg.Mode >= numModes:
		return nil, configError("Mode", cfg.Mode, "is not Fallback, FailOpen or FailClosed")
	case cfg.Instances < 0:
		return nil, configError("Instances", cfg.Instances, "must not be negative (0 means 1)")
	case cfg.MaxKeys < 0:
		return nil, configError("MaxKeys", cfg.MaxKeys, "must not be negative (0 means limits.DefaultMaxKeys)")
	case cfg.ProbeInterval < 0:
		return nil, configError("ProbeInterval", cfg.ProbeInterval, "must not be negative (0 means DefaultProbeInterval)")
	}
	s := &Store{
		c:         c,
		prefix:    cmp.Or(cfg.Prefix, DefaultPrefix),
		timeout:   cmp.Or(cfg.Timeout, DefaultTimeout),
		mode:      cfg.Mode,
		instances: max(1, cfg.Instances),
		probe:     int64(cmp.Or(cfg.ProbeInterval, DefaultProbeInterval)),
		onFailure: cfg.OnFailure,
		start:     time.Now(),
	}
	if s.mode == Fallback {
		s.fallback = limits.NewMemoryStore(cfg.MaxKeys)
	}
	return s, nil
}

func configError(field string, value any, problem string) error {
	return fmt.Errorf("windhover/redisstore: Config.%s = %v %s", field, value, problem)
}

// Allow takes a token from key's bucket, as [limits.Store] requires, in one
// round trip to Redis bounded by Config.Timeout; now is not used, the
// server's clock is. It fails with [limits.ErrInvalidQuota] for an invalid
// q, with the request's own context error if ctx ends first, and, in
// FailClosed mode, with an error wrapping [ErrUnavailable] when Redis
// fails.
func (s *Store) Allow(ctx context.Context, key string, q limits.Quota, now time.Time) (limits.Decision, error) {
	a := s.args.Load()
	if a == nil || a.q != q {
		if !validQuota(q) {
			return limits.Decision{}, limits.ErrInvalidQuota
		}
		a = newQuotaArgs(q)
		s.args.Store(a)
	}
	if at := s.retryAt.Load(); at != 0 {
		// Redis is thought down: one request an interval probes it.
		t := s.clock()
		if t < at || !s.retryAt.CompareAndSwap(at, t+s.probe) {
			s.skipped.Add(1)
			return s.degrade(ctx, key, q, now, nil)
		}
	}
	d, err := s.eval(ctx, key, a)
	if err == nil {
		s.decided.Add(1)
		if s.retryAt.Load() != 0 {
			s.retryAt.Store(0)
			s.recoveries.Add(1)
		}
		return d, nil
	}
	if ctx.Err() != nil {
		// The request ended (its client left, or its own deadline passed):
		// no news about Redis.
		s.fail(FailureCanceled, err)
		return limits.Decision{}, context.Cause(ctx)
	}
	reason := FailureError
	if errors.Is(err, context.DeadlineExceeded) {
		reason = FailureTimeout
	}
	s.fail(reason, err)
	if s.retryAt.Load() == 0 {
		s.retryAt.Store(max(1, s.clock()+s.probe))
	}
	return s.degrade(ctx, key, q, now, err)
}

// fail counts a call that gave no decision, and reports it.
func (s *Store) fail(reason FailureReason, err error) {
	s.failures[reason].Add(1)
	if s.onFailure != nil {
		s.onFailure(reason, err)
	}
}

// eval runs the script for key, loading it if the server has forgotten it.
func (s *Store) eval(ctx context.Context, key string, a *quotaArgs) (limits.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	k := redisKey(s.prefix, key)
	r, err := s.c.EvalSha(ctx, gcraScript.sha1, k, a.args)
	if err != nil && isNoScript(err) {
		s.loads.Add(1)
		r, err = s.c.Eval(ctx, gcraScript.src, k, a.args)
	}
	if err != nil {
		return limits.Decision{}, err
	}
	if (r[0] != 0 && r[0] != 1) || r[1] < 0 {
		return limits.Decision{}, fmt.Errorf("windhover/redisstore: unexpected reply %v from the script", r)
	}
	return a.decision(r[0] == 1, r[1]), nil
}

// degrade decides by the Mode without Redis; cause is Redis's error, nil if
// it was not asked.
func (s *Store) degrade(ctx context.Context, key string, q limits.Quota, now time.Time, cause error) (limits.Decision, error) {
	s.degraded[s.mode].Add(1)
	switch s.mode {
	case FailOpen:
		return limits.Decision{Allowed: true, Remaining: q.Burst - 1}, nil
	case FailClosed:
		if cause == nil {
			return limits.Decision{}, ErrUnavailable
		}
		return limits.Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, cause)
	}
	return s.fallback.Allow(ctx, key, s.share(q), now)
}

// share returns this instance's share of q.
func (s *Store) share(q limits.Quota) limits.Quota {
	if f := s.fbArgs.Load(); f != nil && f.q == q {
		return f.share
	}
	n := s.instances
	share := limits.Quota{
		Rate:  q.Rate / rate.Limit(n),
		Burst: max(1, int(math.Ceil(float64(q.Burst)/float64(n)))),
	}
	s.fbArgs.Store(&fbQuota{q: q, share: share})
	return share
}

// clock returns the monotonic time since s was made, in nanoseconds.
func (s *Store) clock() int64 { return int64(time.Since(s.start)) }
