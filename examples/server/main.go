// Command server is windhover's example server: net/http behind every one
// of the toolkit's protections, useful as is and as a template.
//
//	go run ./examples/server                     # http://127.0.0.1:8080
//	go run ./examples/server -addr :9000 -max-body 1048576
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
//	GET  /healthz          liveness: "ok\n"
//	GET  /readyz           readiness: 200, or 503 from the moment it stops
//	GET  /metrics          Prometheus metrics: requests, connections, every policy
//
// It composes every package: limits (connections, upgrades, request line,
// headers, bodies, HTTP/2 settings; per-client rates with -rate, request
// concurrency with -max-concurrent and -queue), timeouts (keep-alive and
// header timeouts, minimum data rates), hostfilter (-allowed-hosts),
// certauth (client certificates over TLS, and with -client-ca those
// -trusted-proxies forward), unixsock (-unix, and systemd socket
// activation), metrics, and graceful, which drains on SIGINT or SIGTERM (a
// second one forces the close), after -drain-delay, within
// -shutdown-timeout.
//
// /healthz, /readyz and /metrics are for the platform, which must get its
// answers when the server is busiest: they are served outside the rate and
// concurrency limits (and the probes outside the host filter), under every
// other protection. Every refusal is counted, in /metrics, but logged
// through a limiter: ten lines at once, then one a second, for each policy
// and reason, each line saying how many it stands for.
//
// -bare serves the same routes with none of the toolkit, for comparison: it
// stops on the first signal with http.Server.Shutdown.
package main

import (
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
)

func main() {
	// The toolkit handles SIGINT and SIGTERM itself (graceful), -bare with
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
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var logger *slog.Logger
	if o.logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	srv := &http.Server{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(o.tlsCert != "")
	srv.Protocols.SetUnencryptedHTTP2(o.h2c)
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert, -tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.bare {
		return runBare(ctx, o, srv, logger, stdout)
	}

	tk, err := newToolkit(o, logger)
	if err != nil {
		return err
	}
	if err := tk.apply(srv, routes(false, whoami(tk.certs)), probes(http.NewServeMux(), tk.metricsHandler(), tk.group.ReadyHandler())); err != nil {
		return err
	}
	eps, err := listen(o, false, logger)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if err := tk.watch(ep.ln); err != nil {
			return err
		}
		// Connections count against the limit before their TLS handshake.
		ln := tk.lim.Listener(ep.ln)
		if ep.tls {
			tk.group.AddTLS(srv, ln, "", "")
		} else {
			tk.group.Add(srv, ln)
		}
	}
	ready(stdout, eps)
	err = tk.group.Run(ctx)
	tk.logStopped()
	return err
}

// runBare serves with net/http alone and stops with Shutdown.
func runBare(ctx context.Context, o options, srv *http.Server, logger *slog.Logger, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv.Handler = probes(routes(true, whoami(nil)), promhttpHandler(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ready\n")
	}))
	eps, err := listen(o, true, logger)
	if err != nil {
		return err
	}
	ready(stdout, eps)
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
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
func ready(stdout io.Writer, eps []endpoint) {
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = ep.url
	}
	fmt.Fprintln(stdout, "windhover example server listening on "+strings.Join(urls, " "))
}
