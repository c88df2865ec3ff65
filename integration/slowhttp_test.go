//go:build integration

package integration

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example server's settings under attack: a short header timeout, and a
// minimum data rate any honest client on loopback clears by far.
var slowDefence = []string{"-header-timeout", "2s", "-min-rate", "50000", "-min-rate-grace", "1s"}

const (
	attackers    = 300
	attackLength = 7 // seconds
)

// legitLoad is honest clients sending small and 20 KB requests as fast as
// they are answered.
type legitLoad struct {
	ok, failed atomic.Int64
	firstErr   atomic.Pointer[string]
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLegitLoad(url string, clients int) *legitLoad {
	l := &legitLoad{stop: make(chan struct{})}
	body := bytes.Repeat([]byte("x"), 20_000)
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			for n := i; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				var res *http.Response
				var err error
				want := "hello\n"
				if n%2 == 0 {
					res, err = c.Get(url + "/")
				} else {
					res, err = c.Post(url+"/upload", "application/octet-stream", bytes.NewReader(body))
					want = "20000\n"
				}
				if err == nil {
					got, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if string(got) != want {
						err = &unexpected{res.Status, string(got)}
					}
				}
				if err != nil {
					msg := err.Error()
					l.firstErr.CompareAndSwap(nil, &msg)
					l.failed.Add(1)
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *legitLoad) finish() (ok, failed int64) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

// runSlowhttptest runs an attack and returns slowhttptest's verdict, such
// as "No open connections left" or "Hit test time limit".
func runSlowhttptest(t *testing.T, mode []string, url string) string {
	t.Helper()
	bin := requirePeer(t, "slowhttptest")
	args := append([]string{"-c", strconv.Itoa(attackers), "-r", strconv.Itoa(attackers),
		"-l", strconv.Itoa(attackLength), "-u", url, "-p", "3"}, mode...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	plain := ansi.ReplaceAllString(string(out), "")
	m := verdict.FindStringSubmatch(plain)
	require.NotNil(t, m, "slowhttptest gave no verdict:\n%s", plain)
	return strings.TrimSpace(m[1])
}

var (
	ansi    = regexp.MustCompile("\x1b\\[[0-9;]*m")
	verdict = regexp.MustCompile(`Exit status:\s*(.*)`)
)

// fdSampler records a server's open descriptors every 100 ms. Its samples
// and error belong to its goroutine until done is closed.
type fdSampler struct {
	samples []fdSample
	err     error
	stop    chan struct{}
	done    chan struct{}
}

type fdSample struct {
	at  time.Duration
	fds int
}

func sampleFDs(s *server) *fdSampler {
	f := &fdSampler{stop: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(f.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			n, err := s.countFDs()
			if err != nil {
				f.err = err
				return
			}
			f.samples = append(f.samples, fdSample{time.Since(start), n})
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return f
}

// finish stops the sampling and returns the samples, failing the test if
// the descriptors could not be counted.
func (f *fdSampler) finish(t *testing.T) []fdSample {
	t.Helper()
	close(f.stop)
	<-f.done
	if f.err != nil {
		t.Fatalf("sampling the server's descriptors: %v", f.err)
	}
	return f.samples
}

// peak is the most descriptors seen; after, the most seen from d on, or
// the last count if sampling ended before d.
func peak(samples []fdSample) int {
	m := 0
	for _, s := range samples {
		m = max(m, s.fds)
	}
	return m
}

func after(samples []fdSample, d time.Duration) int {
	m := samples[len(samples)-1].fds
	for _, s := range samples {
		if s.at >= d {
			m = max(m, s.fds)
		}
	}
	return m
}

// TestSlowAttacks runs slowhttptest's slowloris, slow body and slow read
// attacks, each with hundreds of connections, against the example server
// while honest clients keep working, and the same against the -bare server.
// With windhover the server lets go of every attacker within its timeout or
// grace period plus a margin, honest requests keep succeeding, and the
// server's descriptors return to where they were. The server's descriptors
// are the measure, not slowhttptest's count: a connection cut while the
// client reads slowly leaves its last bytes and its FIN to the kernel, so
// the attacker still sees it open after the server has freed it.
func TestSlowAttacks(t *testing.T) {
	attacks := []struct {
		name string
		mode []string
		path string
	}{
		{"slowloris", []string{"-H", "-i", "1", "-x", "10"}, "/"},
		{"slow body", []string{"-B", "-i", "1", "-x", "10", "-s", "1000000"}, "/upload"},
		{"slow read", []string{"-X", "-w", "1", "-y", "16", "-n", "1", "-z", "16", "-k", "1"}, "/stream?bytes=50000000"},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			s := startServer(t, slowDefence...)
			baseFDs := s.openFDs(t)

			// Honest throughput without an attack, then with one.
			quiet := startLegitLoad(s.url(), 4)
			time.Sleep(2 * time.Second)
			quietOK, quietFailed := quiet.finish()
			require.Zero(t, quietFailed)

			load := startLegitLoad(s.url(), 4)
			fds := sampleFDs(s)
			start := time.Now()
			verdict := runSlowhttptest(t, at.mode, s.url()+at.path)
			// slowhttptest ends early once the server has cut every
			// attacker; go on sampling for the attack's whole length and
			// a second more, as net/http lingers half a second over a
			// connection it closes after an answer.
			time.Sleep(time.Until(start.Add((attackLength + 1) * time.Second)))
			elapsed := time.Since(start)
			ok, failed := load.finish()
			samples := fds.finish(t)

			// Every attacker connects within the first second or two,
			// and the defence lets go of it within 2 s of its timeout or
			// grace period: by the end of the attack only honest
			// connections remain. slowhttptest itself sees the slowloris
			// and slow-body attackers all cut ("No open connections
			// left") before its time limit; a slow reader's last bytes
			// and FIN stay with the kernel (see above).
			assert.Greater(t, peak(samples), baseFDs+attackers/2, "the attack never connected")
			assert.LessOrEqual(t, after(samples, attackLength*time.Second), baseFDs+20, "the server still holds attackers at the end of the attack")
			if at.name != "slow read" {
				assert.Equal(t, "No open connections left", verdict)
			}
			assert.Zero(t, failed, "honest requests failed during the attack, the first: %v", load.firstErr.Load())
			assert.Positive(t, ok)
			ratio := (float64(ok) / elapsed.Seconds()) / (float64(quietOK) / 2)
			testServerFDsReturn(t, s, baseFDs)

			bare := startServer(t, "-bare")
			bareBase := bare.openFDs(t)
			bareFDs := sampleFDs(bare)
			bareVerdict := runSlowhttptest(t, at.mode, bare.url()+at.path)
			bareSamples := bareFDs.finish(t)
			t.Logf("%s, %d attackers: windhover held %d connections at the peak, %d after 5 s and %d at the end (slowhttptest: %q); honest throughput %.2f of unattacked (%d requests, %d failed). Bare net/http held %d at the peak and %d at the end (slowhttptest: %q)",
				at.name, attackers, peak(samples)-baseFDs, after(samples, 5*time.Second)-baseFDs, after(samples, attackLength*time.Second)-baseFDs,
				verdict, ratio, ok, failed, peak(bareSamples)-bareBase, after(bareSamples, attackLength*time.Second)-bareBase, bareVerdict)
		})
	}
}

// testServerFDsReturn waits for the server's descriptors to come back to
// base, give or take a few of the runtime's.
func testServerFDsReturn(t *testing.T, s *server, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := s.openFDs(t)
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the server holds %d descriptors, %d before the attack", n, base)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
