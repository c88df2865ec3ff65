package main

import (
	"cmp"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Refusal logging's limits: the first refusals of a kind are logged at
// once, then one a second.
const (
	logBurst = 10
	logEvery = time.Second
)

// logKind is what the log limiter limits by: a policy and its reason,
// both from fixed lists, so that the number of kinds stays bounded whatever
// clients send.
type logKind struct{ policy, reason string }

// logLimiter logs the lines of each kind (refusals, mostly) through a token
// bucket: burst lines at once, then one per every. The lines it drops are
// counted, not lost: the kind's next line says how many were dropped before
// it ("suppressed"), and if none comes within every, a summary line of its
// own does, which takes a token too. So a kind never logs more than burst
// lines plus one per every, however many clients a policy refuses, while
// the policies' own counters (and /metrics) count every refusal.
//
// A logLimiter is safe for concurrent use.
type logLimiter struct {
	logger *slog.Logger
	burst  int
	every  time.Duration

	mu    sync.Mutex
	kinds map[logKind]*kindLog
}

// kindLog is a kind's bucket and the lines it dropped.
type kindLog struct {
	bucket     *rate.Limiter
	suppressed uint64
	summary    *time.Timer // the pending summary, nil if none
	scheduled  uint64      // summaries scheduled, which numbers them
}

func newLogLimiter(logger *slog.Logger, burst int, every time.Duration) *logLimiter {
	return &logLimiter{logger: logger, burst: burst, every: every, kinds: make(map[logKind]*kindLog)}
}

// warn logs msg at level WARN with k's policy and reason and attrs, if k has
// a token left; otherwise it counts the line as suppressed.
func (l *logLimiter) warn(k logKind, msg string, attrs ...any) {
	l.mu.Lock()
	s := l.kinds[k]
	if s == nil {
		s = &kindLog{bucket: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.kinds[k] = s
	}
	if !s.bucket.Allow() {
		s.suppressed++
		if s.summary == nil {
			l.schedule(k, s)
		}
		l.mu.Unlock()
		return
	}
	n := s.suppressed
	s.suppressed = 0
	l.mu.Unlock()
	// The line is written outside the lock: a slow log writer then holds
	// up only the lines it writes, not every refusal.
	all := append([]any{"policy", k.policy, "reason", k.reason}, attrs...)
	if n > 0 {
		all = append(all, "suppressed", n)
	}
	l.logger.Warn(msg, all...)
}

// schedule arranges for k's suppressed lines to be summed up after every.
// l.mu is held.
func (l *logLimiter) schedule(k logKind, s *kindLog) {
	s.scheduled++
	n := s.scheduled
	s.summary = time.AfterFunc(l.every, func() { l.summarize(k, n) })
}

// summarize logs the number of k's suppressed lines, if there are any and
// a token is left, or tries again after every. n numbers the summary: one
// that flush cancelled after its timer fired does nothing.
func (l *logLimiter) summarize(k logKind, n uint64) {
	l.mu.Lock()
	s := l.kinds[k]
	if s.summary == nil || s.scheduled != n {
		l.mu.Unlock()
		return
	}
	s.summary = nil
	if s.suppressed == 0 {
		l.mu.Unlock()
		return
	}
	if !s.bucket.Allow() {
		l.schedule(k, s)
		l.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.suppressed = 0
	l.mu.Unlock()
	l.summary(k, suppressed)
}

func (l *logLimiter) summary(k logKind, n uint64) {
	l.logger.Warn("similar lines suppressed", "policy", k.policy, "reason", k.reason, "suppressed", n)
}

// flush logs every kind's suppressed lines now, tokens or not, and cancels
// the pending summaries: for the end, so that the last lines are not lost.
func (l *logLimiter) flush() {
	type pending struct {
		k logKind
		n uint64
	}
	var ps []pending
	l.mu.Lock()
	for k, s := range l.kinds {
		if s.summary != nil {
			s.summary.Stop()
			s.summary = nil
		}
		if s.suppressed > 0 {
			ps = append(ps, pending{k, s.suppressed})
			s.suppressed = 0
		}
	}
	l.mu.Unlock()
	slices.SortFunc(ps, func(a, b pending) int {
		return cmp.Or(cmp.Compare(a.k.policy, b.k.policy), cmp.Compare(a.k.reason, b.k.reason))
	})
	for _, p := range ps {
		l.summary(p.k, p.n)
	}
}
