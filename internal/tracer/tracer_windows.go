//go:build windows

package tracer

import "syscall"

var isDebuggerPresent = syscall.NewLazyDLL("kernel32.dll").NewProc("IsDebuggerPresent")

// detectTracer asks IsDebuggerPresent whether a user-mode debugger is
// attached.
func detectTracer() bool {
	if isDebuggerPresent.Find() != nil {
		return false
	}
	r, _, _ := isDebuggerPresent.Call()
	return r != 0
}
