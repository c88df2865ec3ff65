//go:build !unix

package redistest

import "os"

// Pause is not supported off Unix: the test is skipped.
func (s *Server) Pause() { s.tb.Skip("redistest: Pause needs SIGSTOP, a Unix signal") }

// Resume is not supported off Unix: the test is skipped.
func (s *Server) Resume() { s.tb.Skip("redistest: Resume needs SIGCONT, a Unix signal") }

func resume(*os.Process) {}
