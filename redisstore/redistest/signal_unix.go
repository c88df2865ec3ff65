//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// Pause stops the server's process (SIGSTOP) with its connections open: a
// server that has stopped answering, as a hung or overloaded one has.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatal("redistest: the server is stopped")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatal(err)
	}
}

// resume lets a paused process go on before it is killed.
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
