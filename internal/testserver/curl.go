package testserver

import (
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CurlResult is what a curl run printed and how it ended.
type CurlResult struct {
	// Out is what -w printed: "<status> <http version>".
	Out string
	// Trace is curl's verbose trace and error messages.
	Trace string
	// Exit is curl's exit status (0 for success).
	Exit int
}

// Curl runs the real curl against s with args, trusting s's certificate
// when it speaks TLS. A missing curl fails the test: the integration suite
// must not skip its peers.
func Curl(t testing.TB, s *Server, args ...string) CurlResult {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is required by the integration suite: %v", err)
	}
	base := []string{"-sS", "-v", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--max-time", "30"}
	if s.TLS != nil {
		ca := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		base = append(base, "--cacert", ca)
	}
	cmd := exec.Command(bin, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := CurlResult{Out: string(out), Trace: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Exit = exit.ExitCode()
	case err != nil:
		t.Fatalf("running curl: %v", err)
	}
	return res
}

// CurlFlag returns the curl flag that makes it speak p.
func CurlFlag(p Proto) string {
	switch p {
	case H2:
		return "--http2"
	case H2C:
		return "--http2-prior-knowledge"
	}
	return "--http1.1"
}
