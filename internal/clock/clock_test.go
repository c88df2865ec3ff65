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
	b.Run("clock.Nanos", func(b *testing.B) {
		for b.Loop() {
			_ = Nanos()
		}
	})
}

func TestNanos(t *testing.T) {
	before := Now()
	ns := Nanos()
	after := Now()
	at := At(ns)
	if at.Before(before) || at.After(after) {
		t.Errorf("At(Nanos()) = %v, not between %v and %v", at, before, after)
	}
	if got, want := UnixNanos(ns), at.UnixNano(); got != want {
		t.Errorf("UnixNanos(%d) = %d, want At's %d", ns, got, want)
	}
	if s := at.String(); !strings.Contains(s, "m=+") {
		t.Errorf("At(Nanos()) = %s carries no monotonic reading", s)
	}
}
