package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// line is a record a recorder kept: its message and attributes.
type line struct {
	msg   string
	attrs map[string]any
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu    sync.Mutex
	lines []line
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	l := line{msg: r.Message, attrs: map[string]any{}}
	r.Attrs(func(a slog.Attr) bool {
		l.attrs[a.Key] = a.Value.Any()
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, l)
	h.mu.Unlock()
	return nil
}

// take returns the lines kept since the last take.
func (h *recorder) take() []line {
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := h.lines
	h.lines = nil
	return ls
}

// represented is the number of events the lines of kind k stand for: one
// for each line of msg, plus what every line says it suppressed.
func represented(ls []line, k logKind, msg string) uint64 {
	var n uint64
	for _, l := range ls {
		if l.attrs["policy"] != k.policy || l.attrs["reason"] != k.reason {
			continue
		}
		if l.msg == msg {
			n++
		}
		if s, ok := l.attrs["suppressed"].(uint64); ok {
			n += s
		}
	}
	return n
}

var (
	rateLimited = logKind{"rate", "rate_limited"}
	tooLarge    = logKind{"limits", "body_too_large"}
)

// TestLogLimiterBurst logs 10,000 lines of a kind at once: burst of them
// are written, and one summary line one interval later counts the rest.
func TestLogLimiterBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 10, time.Second)
		for i := range 10_000 {
			l.warn(rateLimited, "refused", "n", i)
		}
		ls := rec.take()
		require.Len(t, ls, 10)
		for i, ln := range ls {
			assert.Equal(t, "refused", ln.msg)
			assert.Equal(t, int64(i), ln.attrs["n"])
			assert.Equal(t, "rate", ln.attrs["policy"])
			assert.Equal(t, "rate_limited", ln.attrs["reason"])
			assert.NotContains(t, ln.attrs, "suppressed")
		}

		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, rec.take(), "nothing before the interval")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, []line{{"similar lines suppressed", map[string]any{
			"policy": "rate", "reason": "rate_limited", "suppressed": uint64(9990),
		}}}, rec.take())

		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, rec.take(), "one summary, no more")
	})
}

// TestLogLimiterFlood logs a line of a kind every millisecond for a minute:
// about one a second is written, each with the count of those it
// suppressed before it, and together they count every one.
func TestLogLimiterFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 10, time.Second)
		const n = 60_000
		for range n {
			l.warn(rateLimited, "refused")
			time.Sleep(time.Millisecond)
		}
		l.flush()
		ls := rec.take()
		assert.LessOrEqual(t, len(ls), 10+60+1, "burst, one a second, and the flush")
		assert.GreaterOrEqual(t, len(ls), 10+59)
		assert.Equal(t, uint64(n), represented(ls, rateLimited, "refused"))
		for _, ln := range ls[11:] {
			assert.InDelta(t, 1000, ln.attrs["suppressed"], 2, "a line a second")
		}
	})
}

// TestLogLimiterKinds keeps each kind's limit to itself: a flood of one
// does not silence another.
func TestLogLimiterKinds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 2, time.Second)
		for range 100 {
			l.warn(rateLimited, "refused")
		}
		l.warn(tooLarge, "refused", "path", "/upload")
		ls := rec.take()
		require.Len(t, ls, 3)
		assert.Equal(t, map[string]any{"policy": "limits", "reason": "body_too_large", "path": "/upload"}, ls[2].attrs)
		time.Sleep(time.Second)
		synctest.Wait()
		ls = rec.take()
		require.Len(t, ls, 1)
		assert.Equal(t, uint64(98), ls[0].attrs["suppressed"])
		assert.Equal(t, "rate", ls[0].attrs["policy"])
	})
}

// TestLogLimiterSummaryWaitsForToken has a line take the count of those
// suppressed before it, and the summary then find nothing to say; and has a
// summary find no token, and wait for one.
func TestLogLimiterSummaryWaitsForToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 1, time.Second)
		l.warn(rateLimited, "refused", "n", 1) // the token
		time.Sleep(500 * time.Millisecond)
		l.warn(rateLimited, "refused", "n", 2) // half a token: suppressed, a summary due at 1.5 s
		time.Sleep(500 * time.Millisecond)
		l.warn(rateLimited, "refused", "n", 3) // a token: the line counts the one before
		l.warn(rateLimited, "refused", "n", 4) // none: suppressed, the summary already due
		ls := rec.take()
		require.Len(t, ls, 2)
		assert.Equal(t, map[string]any{"policy": "rate", "reason": "rate_limited", "n": int64(3), "suppressed": uint64(1)}, ls[1].attrs)

		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		assert.Empty(t, rec.take(), "at 1.5 s, half a token: the summary waits")
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, rec.take())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, []line{{"similar lines suppressed", map[string]any{
			"policy": "rate", "reason": "rate_limited", "suppressed": uint64(1),
		}}}, rec.take(), "at 2.5 s, with a token")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, rec.take())
	})
}

// TestLogLimiterLineTakesCount has a line count the one suppressed
// before it: the summary due then has nothing to say.
func TestLogLimiterLineTakesCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 1, time.Second)
		l.warn(rateLimited, "refused")
		time.Sleep(500 * time.Millisecond)
		l.warn(rateLimited, "refused") // suppressed, a summary due at 1.5 s
		time.Sleep(500 * time.Millisecond)
		l.warn(rateLimited, "refused")
		time.Sleep(time.Hour)
		synctest.Wait()
		ls := rec.take()
		require.Len(t, ls, 2)
		assert.Equal(t, "refused", ls[1].msg)
		assert.Equal(t, uint64(1), ls[1].attrs["suppressed"])
	})
}

// TestLogLimiterFlush writes what is suppressed at once, tokens or not, in
// the order of the kinds, and cancels the pending summaries.
func TestLogLimiterFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLogLimiter(slog.New(rec), 1, time.Second)
		for range 5 {
			l.warn(rateLimited, "refused")
			l.warn(tooLarge, "refused")
		}
		rec.take()
		l.flush()
		assert.Equal(t, []line{
			{"similar lines suppressed", map[string]any{"policy": "limits", "reason": "body_too_large", "suppressed": uint64(4)}},
			{"similar lines suppressed", map[string]any{"policy": "rate", "reason": "rate_limited", "suppressed": uint64(4)}},
		}, rec.take())
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, rec.take())
		l.flush()
		assert.Empty(t, rec.take(), "nothing left to flush")
	})
}

// TestLogLimiterConcurrent logs from many goroutines at once: every line is
// accounted for exactly once.
func TestLogLimiterConcurrent(t *testing.T) {
	rec := &recorder{}
	l := newLogLimiter(slog.New(rec), 10, 10*time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5_000 {
				l.warn(rateLimited, "refused")
			}
		})
	}
	wg.Wait()
	l.flush()
	assert.Equal(t, uint64(40_000), represented(rec.take(), rateLimited, "refused"))
}
