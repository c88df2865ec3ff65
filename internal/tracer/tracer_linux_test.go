//go:build linux

package tracer

import "testing"

func TestTracerPid(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   int
	}{
		{"Name:\tx\nTracerPid:\t0\nUid:\t0\n", 0},
		{"Name:\tx\nTracerPid:\t4242\nUid:\t0\n", 4242},
		{"Name:\tx\nTracerPid:  17", 17},
		{"Name:\tx\nUid:\t0\n", 0},
		{"TracerPid:\t12\n", 0}, // a field is on a line of its own, after Name
		{"Name:\tx\nTracerPid:\t99999999999999999999\n", 0},
		{"Name:\tx\nTracerPid:\tx\n", 0},
	} {
		if got := tracerPid([]byte(tt.status)); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.status, got, tt.want)
		}
	}
	if detectTracer() {
		t.Log("a tracer is attached to this test (a debugger?)")
	}
}

func FuzzTracerPid(f *testing.F) {
	f.Add([]byte("Name:\tx\nTracerPid:\t4242\n"))
	f.Add([]byte("\nTracerPid:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tracerPid(b) < 0 {
			t.Fatal("negative pid")
		}
	})
}
