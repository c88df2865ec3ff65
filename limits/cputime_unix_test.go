//go:build unix

package limits

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, user and system:
// on a busy machine a benchmark's wall-clock time per operation includes
// the time it waited for a core, its CPU time does not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
