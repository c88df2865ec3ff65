//go:build integration

package graceful

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testserver"
)

// peer is a real client program running in the background.
type peer struct {
	*testserver.Process
	out strings.Builder
}

// startPeer starts name with args; a missing program fails the test, as the
// integration suite must not skip its peers.
func startPeer(t *testing.T, name string, args ...string) *peer {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required by the integration suite: %v", name, err)
	}
	p := &peer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	p.Process = testserver.StartProcess(t, cmd)
	return p
}

// wait waits for the program to exit and returns what it printed.
func (p *peer) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case <-p.Done():
		return p.out.String(), p.Err()
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit", p.Cmd.Path)
		return "", nil
	}
}

// curl's request in flight when the stop begins completes: over HTTP/1.1 on a
// Unix socket (its response began before the stop, so Handler did not ask
// for the close: the drain closes the connection once it is idle; the
// requests that begin during the drain are told, see drain_test.go), over
// HTTP/2 (TLS and h2c) its stream completes after the GOAWAY.
func TestIntegrationCurlInFlight(t *testing.T) {
	for _, tr := range []transport{overUnix, overH2, overH2C} {
		t.Run(string(tr), func(t *testing.T) {
			f := startOne(t, Config{DisableSignals: true}, tr)
			g, ep, r := f.g, f.ep, f.r

			args := []string{"-sS", "-v", "--max-time", "20", "-w", "\n%{http_code} %{http_version}\n"}
			url := ep.url + "/slow"
			switch tr {
			case overUnix:
				args = append(args, "--unix-socket", ep.path, "http://localhost/slow")
			case overH2:
				args = append(args, "--http2", "--cacert", ep.ca.WriteCA(t, t.TempDir()), url)
			case overH2C:
				args = append(args, "--http2-prior-knowledge", url)
			}
			curl := startPeer(t, "curl", args...)
			f.gt.wait(t, 1)
			r.cancel()
			waitState(t, g, StateDraining)
			f.gt.release()
			out, err := curl.wait(t)
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			wantVersion := "2"
			if tr == overUnix {
				wantVersion = "1.1"
			}
			if !strings.Contains(out, "done: /slow\n200 "+wantVersion+"\n") {
				t.Errorf("curl's output does not end with the body and 200 over HTTP/%s:\n%s", wantVersion, out)
			}
			r.expect(t, nil)
			if rep := g.Report(); rep.Completed != 1 || rep.TimedOut {
				t.Errorf("report: %+v", rep)
			}
		})
	}
}

// Load from h2load and wrk runs across the stop: every request a server
// took is answered 200 (none cut, none refused with a status), the drain
// delay keeps serving under load, and the drain finishes in time.
func TestIntegrationLoadWhileDraining(t *testing.T) {
	tests := []struct {
		tool string
		tr   transport
		args func(url string) []string
		// bad finds responses other than 2xx in the tool's output.
		bad *regexp.Regexp
	}{
		{"h2load", overH2C, func(url string) []string { return []string{"-c", "8", "-m", "4", "-D", "3", url} },
			regexp.MustCompile(`status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)},
		{"wrk", overH1, func(url string) []string { return []string{"-t", "2", "-c", "16", "-d", "3s", url} },
			regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			checkNoLeaks(t)
			g := mustNew(t, Config{DisableSignals: true, DrainDelay: time.Second, ShutdownTimeout: 10 * time.Second})
			ready := g.ReadyHandler()
			h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/ready" {
					ready.ServeHTTP(w, r)
					return
				}
				time.Sleep(2 * time.Millisecond)
				_, _ = io.WriteString(w, "ok")
			}))
			ep := addServer(t, g, tt.tr, h)
			r := start(t, g)
			tool := startPeer(t, tt.tool, tt.args(ep.url+"/work")...)
			time.Sleep(500 * time.Millisecond)
			served := g.Stats().Served
			r.cancel()
			waitState(t, g, StateStopping)
			if code, _, err := ep.get("/ready"); err != nil || code != 503 {
				t.Errorf("ready during the delay: %d %v", code, err)
			}
			r.expect(t, nil)
			out, err := tool.wait(t)
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("%s: %v", tt.tool, err)
			}
			t.Logf("%s:\n%s", tt.tool, out)
			if m := tt.bad.FindStringSubmatch(out); m != nil {
				for _, n := range m[1:] {
					if v, _ := strconv.Atoi(n); v != 0 {
						t.Errorf("%s saw responses other than 2xx: %s", tt.tool, m[0])
					}
				}
			} else if tt.tool == "h2load" {
				t.Errorf("no status codes in h2load's output")
			}
			// Go sends one GOAWAY, so the streams on the wire as it goes
			// out are discarded, at most every client's every stream.
			if m := regexp.MustCompile(`(\d+) failed`).FindStringSubmatch(out); m != nil {
				if v, _ := strconv.Atoi(m[1]); v > 8*4 {
					t.Errorf("%s: %d requests failed, more than were in flight", tt.tool, v)
				}
			}
			rep := g.Report()
			if served == 0 || rep.Completed == 0 || rep.Unfinished != 0 || rep.TimedOut || rep.ForcedClosed != 0 {
				t.Errorf("served %d before the stop; report: %+v", served, rep)
			}
		})
	}
}
