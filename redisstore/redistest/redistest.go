// Package redistest starts a throwaway redis-server for tests: on 127.0.0.1
// and a free port, without persistence, stopped when the test ends.
//
// A test calling [Start] is skipped when redis-server is not on PATH, unless
// the environment has WINDHOVER_REQUIRE_REDIS=1 (as windhover's CI does),
// which makes it fail instead.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure.
const RequireEnv = "WINDHOVER_REQUIRE_REDIS"

// Server is a redis-server process started by [Start].
type Server struct {
	// Addr is the server's "127.0.0.1:port", the same across restarts.
	Addr string

	tb    testing.TB
	path  string
	extra []string // arguments beyond the defaults (cluster mode)
	mu    sync.Mutex
	cmd   *exec.Cmd
}

// Start starts a redis-server for tb and stops it in tb.Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return startWith(tb, nil)
}

func startWith(tb testing.TB, extra []string) *Server {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("redis-server not found, and %s=1: %v", RequireEnv, err)
		}
		tb.Skipf("redis-server not found (install it, e.g. apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Addr: addr, tb: tb, path: path, extra: extra}
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	dir := s.tb.TempDir()
	log := filepath.Join(dir, "redis.log")
	args := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning", "--dir", dir, "--logfile", log}
	cmd := exec.Command(s.path, append(args, s.extra...)...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Do("PING"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			s.tb.Fatalf("redis-server on %s did not answer PING within 10 s; its log:\n%s", s.Addr, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit; the port is then closed,
// as after a crash. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	resume(s.cmd.Process) // a paused one too
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same address, empty, as Redis
// restarted without persistence is: keys and loaded scripts are gone.
func (s *Server) Restart() {
	s.tb.Helper()
	s.start()
}

// Do sends one command over a new connection and returns its reply: a
// simple or bulk string, an integer's digits, or an error reply's text as an
// error. It is enough for PING, INFO, GET, SET, CONFIG and SCRIPT FLUSH; an
// array reply gives only its length.
func (s *Server) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

// CommandCalls returns how many times the server ran each command since it
// started or since CONFIG RESETSTAT, from INFO commandstats: "evalsha",
// "eval", "get", and so on.
func (s *Server) CommandCalls() (map[string]int64, error) {
	info, err := s.Do("INFO", "commandstats")
	if err != nil {
		return nil, err
	}
	calls := make(map[string]int64)
	for line := range strings.Lines(info) {
		// cmdstat_evalsha:calls=10,usec=...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				calls[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return calls, nil
}

// Cluster is a Redis Cluster of redis-server processes started by
// [StartCluster].
type Cluster struct {
	// Nodes are the cluster's primaries, each holding a share of the hash
	// slots; there are no replicas.
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// StartCluster starts a Redis Cluster of n primaries (3 at least, as Redis
// asks) for tb, each with an equal share of the 16,384 hash slots, waits
// until every node reports cluster_state:ok, and stops the nodes in
// tb.Cleanup. It needs Redis 7 (CLUSTER ADDSLOTSRANGE), and no redis-cli.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	if n < 3 {
		tb.Fatalf("redistest: a cluster of %d nodes; Redis Cluster needs 3 primaries at least", n)
	}
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, startWith(tb, []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"}))
	}
	const slots = 16384
	for i, node := range c.Nodes {
		first, last := i*slots/n, (i+1)*slots/n-1
		if _, err := node.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last)); err != nil {
			tb.Fatalf("redistest: CLUSTER ADDSLOTSRANGE on %s: %v", node.Addr, err)
		}
	}
	for _, node := range c.Nodes[1:] {
		host, port, _ := net.SplitHostPort(node.Addr)
		if _, err := c.Nodes[0].Do("CLUSTER", "MEET", host, port); err != nil {
			tb.Fatalf("redistest: CLUSTER MEET %s: %v", node.Addr, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range c.Nodes {
		for {
			info, err := node.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: the cluster did not form within 30 s; %s says: %v %s", node.Addr, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}
