package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the server when the test process
// exits, so that a test that panics, and so runs no Cleanup, leaves no
// server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
