// Command server is windhover's example server: net/http behind every one
// of the toolkit's protections, put on it by one call, windhover.Harden;
// useful as is and as the template to copy.
//
//	go run ./examples/server                     # http://127.0.0.1:8080
//	go run ./examples/server -addr :9000 -max-body 1048576
//	go run ./examples/server -config appsettings.json
//	go run ./examples/server -h                  # every flag
//
// Routes:
//
//	GET  /                 "hello\n"
//	POST /upload           reads the body and answers its size in bytes
//	GET  /stream?bytes=N   streams N zero bytes
//	GET  /slow?d=2s        waits, then answers (for drain tests)
//	GET  /ws               WebSocket echo (clients must send Origin)
//	GET  /whoami           the client certificate's identity (403 without one)
//	GET  /healthz          liveness: "ok\n", through the drain too
//	GET  /readyz           readiness: 200, or 503 from the moment it stops
//	GET  /metrics          Prometheus metrics: requests, connections, every policy
//
// Its settings are a windhover.Config: read from an ASP.NET Core
// appsettings.json by -config (windhover.LoadConfig: Kestrel.Limits,
// Kestrel.Endpoints, AllowedHosts and a Windhover section), with the flags
// given on the command line put over the file's values, each onto the
// field that is its Kestrel setting (see options.go). windhover.Harden puts
// every policy on the server in one call: limits (connections, upgrades,
// request line, headers, bodies, HTTP/2 settings; per-client rates with
// -rate, request concurrency with -max-concurrent and -queue), timeouts
// (keep-alive and header timeouts, minimum data rates), hostfilter
// (-allowed-hosts), certauth (client certificates over TLS, and with
// -client-ca those -trusted-proxies forward) and metrics; Server.Run serves
// on the file's endpoints, or -addr and -unix, or the sockets systemd passed
// (unixsock), and drains on SIGINT or SIGTERM (a second one forces the
// close), after -drain-delay, within -shutdown-timeout (graceful).
//
// /healthz, /readyz and /metrics are the Config's LivePath, ReadyPath and
// MetricsPath: for the platform, which must get its answers when the server
// is busiest, they are served outside the rate and concurrency limits (and
// the probes outside the host filter), under every other protection. Every
// refusal is counted, in /metrics, and reaches one callback,
// Config.OnReject, which logs it by the policy and reason windhover.RefusalOf
// reads from it, through a limiter: ten lines at once, then one a second,
// for each policy and reason, each line saying how many it stands for.
//
// -bare serves the same routes with none of the toolkit, for comparison, on
// -addr and -unix: it stops on the first signal with http.Server.Shutdown.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/graceful"
)

func main() {
	// windhover handles SIGINT and SIGTERM itself (graceful), -bare with
	// signal.NotifyContext.
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or a stop signal arrives, then drains. Once it
// accepts connections it prints one line to stdout with its addresses,
// separated by spaces:
//
//	windhover example server listening on http://127.0.0.1:8080 unix:/path
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	st, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var logger *slog.Logger
	if st.logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if st.bare {
		return runBare(ctx, st, logger, stdout)
	}
	logs := newLogLimiter(logger, logBurst, logEvery)
	cfg := st.cfg
	cfg.OnReject = logs.refused

	mux := routes(false)
	srv := &http.Server{Handler: mux, ErrorLog: logs.errorLog()}
	h, err := windhover.Harden(srv, cfg)
	if err != nil {
		return err
	}
	mux.Handle("GET /whoami", whoami(h.ClientCertificates()))
	reg := prometheus.NewRegistry()
	if err := errors.Join(h.Register(reg),
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return err
	}
	// The values in force: a ShutdownTimeout of 0 is graceful's default,
	// a negative one none at all.
	sh := cfg.Shutdown
	timeout := sh.ShutdownTimeout.String()
	switch {
	case sh.ShutdownTimeout == 0:
		timeout = graceful.DefaultShutdownTimeout.String()
	case sh.ShutdownTimeout < 0:
		timeout = "none"
	}
	h.Group().OnStopping(func() {
		logger.Info("stopping", "drain_delay", sh.DrainDelay, "shutdown_timeout", timeout)
	})
	if st.trustedProxies != "" {
		switch {
		case cfg.RateLimit == nil && len(cfg.ClientCAFiles) == 0:
			logger.Warn("-trusted-proxies has no effect: only -rate (X-Forwarded-For) and -client-ca (X-Client-Cert) believe forwarded headers")
		case len(cfg.ClientCAFiles) == 0:
			logger.Info("-trusted-proxies: X-Forwarded-For is believed for -rate; X-Client-Cert, without -client-ca to validate it, is removed from every request")
		}
	}

	lns, urls, err := listen(st, h, logger)
	if err != nil {
		return err
	}
	ready(stdout, urls)
	err = h.Run(ctx, lns...)
	logs.flush()
	logStopped(logger, h)
	return err
}

// logStopped logs how the drain went and what the policies did.
func logStopped(logger *slog.Logger, h *windhover.Server) {
	r, st := h.Group().Report(), h.Stats()
	refused := st.Limits.RejectedTotal() + st.HostFilter.RejectedTotal() + st.CertAuth.RejectedTotal() +
		st.Rate.RejectedTotal() + st.Concurrency.RejectedTotal()
	attrs := []any{
		"drain", r.Duration.Round(time.Millisecond), "in_flight", r.InFlight, "completed", r.Completed,
		"unfinished", r.Unfinished, "silent_closed", r.SilentClosed, "forced_closed", r.ForcedClosed + r.ForcedClosedHijacked,
		"timed_out", r.TimedOut, "forced", r.Forced,
		"accepted", st.Limits.AcceptedConnections,
		"refused", refused,
		"too_slow", st.Timeouts.BodyRateViolations + st.Timeouts.ResponseRateViolations,
	}
	if r.Cause != nil {
		attrs = append(attrs, "cause", r.Cause.Error())
	}
	logger.Info("stopped", attrs...)
}

// runBare serves the same routes with net/http alone, on -addr and -unix
// (with TLS by -tls-cert), and stops with Shutdown.
func runBare(ctx context.Context, st settings, logger *slog.Logger, stdout io.Writer) error {
	o := st.options
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := routes(true)
	mux.Handle("GET /whoami", whoami(nil))
	srv := &http.Server{
		Handler: probes(mux, promhttp.Handler(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ready\n")
		})),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert, -tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(o.tlsCert != "")
	srv.Protocols.SetUnencryptedHTTP2(o.h2c)
	eps, err := flagEndpoints(o, o.tlsCert != "", true)
	if err != nil {
		return err
	}
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = ep.url
	}
	ready(stdout, urls)
	served := make(chan error, len(eps))
	for _, ep := range eps {
		go func() {
			if ep.tls {
				served <- srv.ServeTLS(ep.ln, "", "")
			} else {
				served <- srv.Serve(ep.ln)
			}
		}()
	}
	select {
	case err := <-served:
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	timeout := cmp.Or(st.cfg.Shutdown.ShutdownTimeout, graceful.DefaultShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain: %w", err)
	}
	for range eps {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	logger.Info("stopped")
	return nil
}

// ready prints the line that says the server accepts connections.
func ready(stdout io.Writer, urls []string) {
	fmt.Fprintln(stdout, "windhover example server listening on "+strings.Join(urls, " "))
}
