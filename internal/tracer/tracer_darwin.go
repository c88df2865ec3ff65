//go:build darwin

package tracer

import (
	"os"

	"golang.org/x/sys/unix"
)

// pTraced is P_TRACED of <sys/proc.h>: the process is traced (a debugger
// attached through ptrace, as lldb and delve are).
const pTraced = 0x00000800

// detectTracer asks the kernel (sysctl kern.proc.pid) whether this process
// has P_TRACED set.
func detectTracer() bool {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", os.Getpid())
	if err != nil {
		return false
	}
	return kp.Proc.P_flag&pTraced != 0
}
