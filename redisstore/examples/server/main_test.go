package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/windhover/windhover/redisstore/redistest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := build(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// build compiles the example once per test binary.
var build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "redis-example")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// start runs the example with args and returns its URL; it is stopped when
// the test ends.
func start(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server %v:\n%s", args, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server %v: %v\n%s", args, err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "windhover redis example listening on ")
	if !ok {
		t.Fatalf("server printed %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return url
}

var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout:   5 * time.Second,
}

func get(url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestSharedLimit: three servers on three ports, one Redis: load spread
// across them for 3 s is admitted at one client's rate, within 5% of
// rate x time + burst (700), where three unshared limits would admit three
// times that.
func TestSharedLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of load")
	}
	srv := redistest.Start(t)
	// A burst of half a second's worth: a busy machine that stalls the
	// load for less than that loses none of the tokens that accrue
	// meanwhile, so the limit, not the machine, decides the count.
	const rate, burst, load = 200, 100, 3 * time.Second
	var urls []string
	for range 3 {
		// Fail closed, so that a request Redis did not decide shows (503);
		// a generous timeout, as the machine running the test may be
		// busy: the limit's accuracy is what is measured here.
		urls = append(urls, start(t, "-redis", srv.Addr, "-rate", fmt.Sprint(rate), "-burst", fmt.Sprint(burst),
			"-mode", "fail_closed", "-redis-timeout", "2s"))
	}
	var admitted, refused, other [3]atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	deadline := begin.Add(load)
	var last atomic.Int64
	for i, url := range urls {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					code, err := get(url + "/")
					switch {
					case err != nil:
						t.Error(err)
						return
					case code == http.StatusOK:
						admitted[i].Add(1)
					case code == http.StatusTooManyRequests:
						refused[i].Add(1)
					default:
						other[i].Add(1)
					}
				}
				last.Store(max(last.Load(), int64(time.Since(begin))))
			})
		}
	}
	wg.Wait()
	elapsed := time.Duration(last.Load())
	var total, totalRefused int64
	for i := range urls {
		total += admitted[i].Load()
		totalRefused += refused[i].Load()
		if admitted[i].Load() == 0 || other[i].Load() != 0 {
			t.Errorf("server %d: %d admitted, %d refused, %d other", i, admitted[i].Load(), refused[i].Load(), other[i].Load())
		}
	}
	want := rate*elapsed.Seconds() + burst
	t.Logf("%d admitted, %d refused in %v; rate x time + burst = %.0f", total, totalRefused, elapsed.Round(time.Millisecond), want)
	if math.Abs(float64(total)-want) > 0.05*want {
		t.Fatalf("admitted %d across three servers, want %.0f within 5%%", total, want)
	}
	if totalRefused < total {
		t.Fatalf("only %d refused for %d admitted: the load did not saturate the limit", totalRefused, total)
	}
}

// TestRedisStopped stops Redis under a server in each mode: the requests
// are answered as the mode says, none waits past the timeout, and once
// Redis is back the shared limit returns.
func TestRedisStopped(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, tc := range []struct {
		mode string
		want func(codes []int) bool
		what string
	}{
		{"fail_closed", func(c []int) bool { return all(c, http.StatusServiceUnavailable) }, "503 each"},
		{"fail_open", func(c []int) bool { return all(c, http.StatusOK) }, "200 each"},
		// 10 a second shared by 2 instances: a burst of 5 locally, then 429.
		{"fallback", func(c []int) bool { return all(c[:5], http.StatusOK) && all(c[5:], http.StatusTooManyRequests) }, "5 × 200, then 429"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := redistest.Start(t)
			url := start(t, "-redis", srv.Addr, "-rate", "10", "-burst", "10", "-mode", tc.mode,
				"-instances", "2", "-redis-timeout", timeout.String(), "-probe", "200ms")
			if code, err := get(url + "/"); err != nil || code != http.StatusOK {
				t.Fatalf("with Redis: %d, %v", code, err)
			}
			srv.Stop()
			codes := make([]int, 12)
			for i := range codes {
				began := time.Now()
				code, err := get(url + "/")
				if err != nil {
					t.Fatal(err)
				}
				if el := time.Since(began); el > timeout+time.Second {
					t.Fatalf("request %d took %v with a %v timeout", i, el, timeout)
				}
				codes[i] = code
			}
			if !tc.want(codes) {
				t.Fatalf("without Redis: %v, want %s", codes, tc.what)
			}
			srv.Restart()
			// Back: the limit is Redis's again, a full bucket of 10 then
			// 429, once the server's next probe has found it and its
			// client has reconnected.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for {
				if ctx.Err() != nil {
					t.Fatal("Redis back for 10 s, and the limit not shared again")
				}
				if _, err := srv.Do("FLUSHALL"); err != nil {
					t.Fatal(err)
				}
				codes := make([]int, 11)
				for i := range codes {
					codes[i], _ = get(url + "/")
				}
				if all(codes[:10], http.StatusOK) && codes[10] == http.StatusTooManyRequests {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func all(codes []int, want int) bool {
	for _, c := range codes {
		if c != want {
			return false
		}
	}
	return true
}
