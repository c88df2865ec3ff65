// Command server is windhover's hardened server with its rate limit shared
// through Redis: every instance started with the same -redis takes its
// clients' tokens from one bucket per client, so that N instances behind a
// load balancer admit the limit once, not N times.
//
//	go run ./examples/server -redis 127.0.0.1:6379 -rate 200 -burst 20
//	go run ./examples/server -redis 127.0.0.1:6379 -addr 127.0.0.1:8081 ...
//
// It serves GET / ("hello") behind windhover.Harden with a
// limits.RateLimiter whose Store is a redisstore.Store on rueidis, and
// GET /metrics with every policy's collectors and the store's. When Redis
// fails to answer within -redis-timeout, the store decides by -mode:
// fallback (a local bucket at the instance's share of the rate,
// -instances), fail_open, or fail_closed (503); it asks Redis again every
// -probe until it answers.
//
// It lives in the redisstore module rather than beside windhover's own
// examples/server, which is in windhover's module and cannot import this
// one without putting a Redis client into windhover's go.mod.
//
// Once it accepts connections it prints one line, which scripts may rely on:
//
//	windhover redis example listening on http://127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"golang.org/x/time/rate"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/redisstore"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or a stop signal arrives, then drains.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "TCP address to listen on")
	redisAddr := fs.String("redis", "", "Redis (or Valkey) address, host:port; required")
	r := fs.Float64("rate", 10, "requests a second each client may make, across every instance")
	burst := fs.Int("burst", 0, "the most requests a client may make at once (0: -rate, rounded up)")
	mode := fs.String("mode", "fallback", "when Redis fails: fallback, fail_open or fail_closed")
	instances := fs.Int("instances", 1, "instances sharing the limit: fallback keeps rate/instances locally")
	timeout := fs.Duration("redis-timeout", redisstore.DefaultTimeout, "bound on each call to Redis")
	probe := fs.Duration("probe", redisstore.DefaultProbeInterval, "after a failure, how often to ask Redis again")
	prefix := fs.String("prefix", redisstore.DefaultPrefix, "prefix of the Redis keys")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if *redisAddr == "" {
		return errors.New("-redis is required")
	}
	m, ok := modes[*mode]
	if !ok {
		return fmt.Errorf("-mode %q: want fallback, fail_open or fail_closed", *mode)
	}

	// rueidis connects at once: Redis must answer when the server starts.
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*redisAddr}, DisableCache: true})
	if err != nil {
		return fmt.Errorf("-redis %s: %w", *redisAddr, err)
	}
	defer client.Close()
	store, err := redisstore.New(redisstore.Rueidis(client), redisstore.Config{
		Prefix: *prefix, Timeout: *timeout, Mode: m, Instances: *instances, ProbeInterval: *probe,
		// At most one a probe interval while Redis is down.
		OnFailure: func(reason redisstore.FailureReason, err error) {
			logger.Warn("redis failed; deciding by -mode", "reason", reason, "mode", *mode, "err", err)
		},
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello\n") })
	srv := &http.Server{Handler: mux}
	h, err := windhover.Harden(srv, windhover.Config{
		RateLimit:   &limits.RateConfig{Rate: rate.Limit(*r), Burst: *burst, Store: store},
		MetricsPath: "/metrics",
		LivePath:    "/healthz",
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(h.Register(reg), reg.Register(store.Collector(""))); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "windhover redis example listening on http://%s\n", ln.Addr())
	err = h.Run(ctx, ln)
	st := store.Stats()
	fmt.Fprintf(stderr, "stopped: redis decided %d, failures %d, degraded %d\n",
		st.Decided, st.FailuresTotal(), st.Degraded[m])
	return err
}

var modes = map[string]redisstore.Mode{
	"fallback":    redisstore.Fallback,
	"fail_open":   redisstore.FailOpen,
	"fail_closed": redisstore.FailClosed,
}
