package testserver

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// Process is a command started for a test: waited for in the background,
// and killed, if it still runs, when the test ends.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProcess starts cmd, failing the test if it cannot. Its output may
// go to any io.Writer: WaitDelay bounds the wait for output pipes held by
// processes it leaves behind.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the error of the process's Wait, once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop sends sig to the process and waits up to ten seconds for it to exit,
// failing the test if it does not. It returns the error of Wait.
func (p *Process) Stop(t testing.TB, sig os.Signal) error {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", p.Cmd.Path, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit on %v", p.Cmd.Path, sig)
		return nil
	}
}
