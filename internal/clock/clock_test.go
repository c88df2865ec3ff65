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

func TestNanos(t *testing.T) {
	for _, d := range []time.Duration{-time.Hour, -1, 0, 1, time.Hour} {
		at := epoch.Add(d)
		ns := Nanos(at)
		if ns == 0 {
			t.Fatalf("Nanos(epoch%+v) = 0, which stands for no time", d)
		}
		if got := At(ns); got.Sub(at) < 0 || got.Sub(at) > 1 {
			t.Errorf("At(Nanos(epoch%+v)) = epoch%+v", d, got.Sub(epoch))
		}
	}
}
