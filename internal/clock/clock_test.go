package clock

import (
	"strings"
	"testing"
	"time"
)

func TestNow(t *testing.T) {
	before := time.Now()
	now := Now()
	after := time.Now()
	if now.Before(before) || now.After(after) {
		t.Errorf("Now() = %v, not between %v and %v", now, before, after)
	}
	// It carries a monotonic reading: its String says so ("m=+...").
	if s := now.String(); !strings.Contains(s, "m=+") {
		t.Errorf("Now() = %s carries no monotonic reading", s)
	}
	// A deadline from it is as far as one from time.Now.
	if d := time.Until(Now().Add(time.Hour)); d < 59*time.Minute || d > time.Hour {
		t.Errorf("time.Until(Now()+1h) = %v", d)
	}
}

func BenchmarkNow(b *testing.B) {
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	b.Run("clock.Now", func(b *testing.B) {
		for b.Loop() {
			_ = Now()
		}
	})
}
