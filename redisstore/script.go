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
// one number per key, the bucket's theoretical arrival time (TAT), the moment
// it will be full again. A request at now finds the TAT at least now (a
// full bucket); it is allowed if, with its own emission interval T added, the
// TAT is no more than the bucket's fill time tau (T x burst) ahead of now,
// and then stores the new TAT. The difference d = TAT - now is all the caller
// needs: the tokens left are burst - d/T, the bucket is full after d, and a
// refused request's token comes after d + T - tau.
//
// Times are microseconds since scriptEpoch, as doubles (Lua 5.1's only
// numbers): exact as integers for 285 years, and to a few nanoseconds for the
// fractions T brings. They come from the server's clock (TIME), so that the
// instances' clocks, skewed or not, play no part. The TAT is written with 17
// significant digits, as Lua's own number-to-string conversion keeps only 14.
// A request within a nanosecond of its token gets it, so that rounding cannot
// refuse the last of a burst. The key expires when the bucket would be full,
// at the latest tau after the write: forgetting it then changes nothing.
//
// ARGV: T and tau in microseconds, the key's expiry in milliseconds
// (ceil(tau)). The reply: {allowed (1 or 0), d in nanoseconds, rounded}.
const scriptBody = `
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new = tat + T
if new - now > tau + 0.001 then
  return {0, math.floor((tat - now) * 1000 + 0.5)}
end
redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', ARGV[3])
return {1, math.floor((new - now) * 1000 + 0.5)}
`

// scriptEpoch is 2025-01-01T00:00:00Z, in Unix seconds: the script counts
// from it so that its microseconds stay far below 2^53.
const scriptEpoch = 1735689600

// gcraScript reads the server's clock.
var gcraScript = newScript("local t = redis.call('TIME')\nlocal now = (t[1] - " +
	strconv.Itoa(scriptEpoch) + ") * 1000000 + t[2]" + scriptBody)

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
	t := 1e6 / float64(q.Rate)
	tau := t * float64(q.Burst)
	return &quotaArgs{
		q: q,
		args: []string{
			strconv.FormatFloat(t, 'g', -1, 64),
			strconv.FormatFloat(tau, 'g', -1, 64),
			strconv.FormatInt(max(1, int64(math.Ceil(tau/1000))), 10),
		},
		t:   t * 1000,
		tau: tau * 1000,
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
	// The tokens left, burst - d/T, less a hair, so that d's rounding to
	// the nanosecond cannot turn 3 tokens into 2.999.
	if tokens := float64(a.q.Burst) - float64(d)/a.t + 1e-6; tokens >= 1 {
		dec.Remaining = int(min(tokens, float64(a.q.Burst)))
	}
	if !allowed {
		dec.RetryAfter = max(nanos(float64(d)+a.t-a.tau), time.Nanosecond)
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
