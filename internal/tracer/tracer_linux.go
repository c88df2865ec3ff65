//go:build linux

package tracer

import (
	"bytes"
	"os"
)

// detectTracer reads TracerPid from /proc/self/status: the pid of the
// process tracing this one with ptrace (a debugger, strace), 0 if none.
func detectTracer() bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	return tracerPid(status) != 0
}

// tracerPid returns the TracerPid field of a /proc/PID/status file, 0 if
// it is missing or malformed.
func tracerPid(status []byte) int {
	const field = "\nTracerPid:"
	i := bytes.Index(status, []byte(field))
	if i < 0 {
		return 0
	}
	rest := bytes.TrimLeft(status[i+len(field):], " \t")
	pid := 0
	for _, b := range rest {
		if b < '0' || b > '9' {
			break
		}
		pid = pid*10 + int(b-'0')
		if pid > 1<<30 {
			return 0
		}
	}
	return pid
}
