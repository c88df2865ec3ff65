//go:build !linux && !windows

package tracer

// supported is false: the standard library offers no way to read P_TRACED
// (macOS, the BSDs) without cgo or a sysctl layout of each system's own, so
// a debugger is never detected here and timers always run.
const supported = false

func detectTracer() bool { return false }
