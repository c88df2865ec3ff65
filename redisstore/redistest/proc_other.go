//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing off Linux: a test that panics may leave its
// server running.
func dieWithParent(*exec.Cmd) {}
