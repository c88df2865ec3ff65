package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/windhover/windhover/limits"
)

// The script is GCRA, the generic cell rate algorithm: a token bucket kept as
// one value per key, the bucket's theoretical arrival time (TAT), the moment
// it will be full again. A request at now finds the TAT at least now (a
// full bucket); it is allowed if, with its own emission interval T added, the
// TAT is no more than the bucket's fill time tau (T x burst) ahead of now,
// and then stores the new TAT. How far the TAT is ahead of now, d, is all
// the caller needs: the tokens left are burst - d/T, the bucket is full after
// d, and a refused request's token comes after d + T - tau.
//
// The clock is the server's (TIME), so that the instances' clocks, skewed or
// not, play no part. Lua 5.1's numbers are doubles, too coarse for Unix time
// in nanoseconds, so the TAT is stored as whole seconds and nanoseconds,
// "s:ns", and the script works in d alone: exact to the nanosecond for
// buckets that fill within 104 days (2^53 ns), whatever the date. T may be a
// fraction of a nanosecond's multiple; the stored nanoseconds keep 17
// significant digits (Lua's own conversion keeps 14). A request within a
// nanosecond of its token gets it, so that rounding cannot refuse the last
// of a burst. The key expires after tau, by which time the bucket is full
// and forgetting it changes nothing.
//
// ARGV: T and tau in nanoseconds, the key's expiry in milliseconds
// (ceil(tau)). The reply: {allowed (1 or 0), d in nanoseconds, rounded}.
const scriptBody = `
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local d = 0
local v = redis.call('GET', KEYS[1])
if v then
  local s, ns = string.match(v, '^(-?%d+):(.+)$')
  if s then
    d = (tonumber(s) - now_s) * 1e9 + (tonumber(ns) - now_ns)
    if d < 0 then d = 0 end
  end
end
local new = d + T
if new > tau + 1 then
  return {0, math.floor(d + 0.5)}
end
local ns = now_ns + new
local s = math.floor(ns / 1e9)
redis.call('SET', KEYS[1], string.format('%d:%.17g', now_s + s, ns - s * 1e9), 'PX', ARGV[3])
return {1, math.floor(new + 0.5)}
`

// gcraScript reads the server's clock.
var gcraScript = newScript("local t = redis.call('TIME')\nlocal now_s = tonumber(t[1])\nlocal now_ns = tonumber(t[2]) * 1000" + scriptBody)

// script is a Lua script and its SHA1 digest, by which EVALSHA runs it.
type script struct {
	src, sha1 string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha1: hex.EncodeToString(sum[:])}
}

// Script returns the Lua source of the store's script, for a Client that
// wants to load it in advance (SCRIPT LOAD) or a reader who wants to see it.
func Script() string { return gcraScript.src }

// quotaArgs are a Quota's script arguments, computed once per Quota.
type quotaArgs struct {
	q    limits.Quota
	args []string
	t    float64 // T, in nanoseconds
	tau  float64 // tau, in nanoseconds
}

func newQuotaArgs(q limits.Quota) *quotaArgs {
	t := 1e9 / float64(q.Rate)
	tau := t * float64(q.Burst)
	return &quotaArgs{
		q: q,
		args: []string{
			strconv.FormatFloat(t, 'g', -1, 64),
			strconv.FormatFloat(tau, 'g', -1, 64),
			strconv.FormatInt(max(1, int64(math.Ceil(tau/1e6))), 10),
		},
		t:   t,
		tau: tau,
	}
}

// century bounds the durations of a Decision, as the MemoryStore's.
const century = 100 * 365 * 24 * time.Hour

// validQuota is the MemoryStore's rule: a positive, finite rate, a positive
// burst, and a bucket that fills within a century.
func validQuota(q limits.Quota) bool {
	r := float64(q.Rate)
	return r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) && q.Burst > 0 &&
		float64(q.Burst)/r <= century.Seconds()
}

// decision turns the script's reply into the Decision a MemoryStore gives
// for the same bucket: d is how far the TAT is ahead of the server's now.
func (a *quotaArgs) decision(allowed bool, d int64) limits.Decision {
	dec := limits.Decision{Allowed: allowed, Reset: nanos(float64(d))}
	if !allowed {
		// Less than a token left.
		dec.RetryAfter = max(nanos(float64(d)+a.t-a.tau), time.Nanosecond)
		return dec
	}
	// The tokens left, burst - d/T, and a hair, so that d's rounding to the
	// nanosecond cannot turn 3 tokens into 2.999.
	if tokens := float64(a.q.Burst) - float64(d)/a.t + 1e-6; tokens >= 1 {
		dec.Remaining = int(min(tokens, float64(a.q.Burst)))
	}
	return dec
}

// nanos converts to a Duration within [0, century].
func nanos(ns float64) time.Duration {
	if ns <= 0 {
		return 0
	}
	if ns >= float64(century) {
		return century
	}
	return time.Duration(ns)
}

// isNoScript reports whether err is Redis's NOSCRIPT error: the server does
// not know the script (it restarted, or SCRIPT FLUSH ran). Every client
// gives the server's message as the error's text.
func isNoScript(err error) bool { return strings.HasPrefix(err.Error(), "NOSCRIPT") }
