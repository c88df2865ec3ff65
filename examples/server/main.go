// Command server is windhover's example server: net/http behind the
// toolkit's protections, useful as is and as a template.
//
//	go run ./examples/server                     # http://127.0.0.1:8080
//	go run ./examples/server -addr :9000 -max-body 1048576
//
// Routes:
//
//	GET  /        "hello\n"
//	POST /upload  reads the body and answers its size in bytes
//
// It drains and exits on SIGINT or SIGTERM. The packages it composes so far:
// limits (Kestrel's connection, upgrade, request line, header and body
// limits, and HTTP/2 settings) and timeouts (keep-alive and header timeouts,
// minimum data rates for request bodies and responses).
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
	"os/signal"
	"syscall"
	"time"

	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	addr            string
	maxConns        int
	maxUpgraded     int
	maxBody         int64
	maxHeaderCount  int
	minRate         float64
	minRateGrace    time.Duration
	keepAlive       time.Duration
	headerTimeout   time.Duration
	shutdownTimeout time.Duration
	logJSON         bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "TCP address to listen on")
	fs.IntVar(&o.maxConns, "max-conns", 0, "most connections open at once (0: no limit)")
	fs.IntVar(&o.maxUpgraded, "max-upgraded", 0, "most upgraded connections at once (0: no limit, -1: no upgrades)")
	fs.Int64Var(&o.maxBody, "max-body", 0, "largest request body in bytes (0: 30,000,000, Kestrel's default; -1: no limit)")
	fs.IntVar(&o.maxHeaderCount, "max-header-count", 0, "most request header fields (0: 100, Kestrel's default)")
	fs.Float64Var(&o.minRate, "min-rate", 0, "minimum bytes per second for request bodies and responses (0: 240, Kestrel's default; -1: off)")
	fs.DurationVar(&o.minRateGrace, "min-rate-grace", 0, "grace period before -min-rate applies (0: 5s)")
	fs.DurationVar(&o.keepAlive, "keepalive", 0, "how long an idle keep-alive connection stays open (0: 130s)")
	fs.DurationVar(&o.headerTimeout, "header-timeout", 0, "how long a client may take to send a request header (0: 30s)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight on exit")
	fs.BoolVar(&o.logJSON, "log-json", false, "log JSON instead of text")
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, err
}

// run serves until ctx ends, then drains. It prints one line with the
// server's address to stdout once it accepts connections.
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

	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections:         o.maxConns,
		MaxConcurrentUpgradedConnections: o.maxUpgraded,
		MaxRequestBodySize:               o.maxBody,
		MaxRequestHeaderCount:            o.maxHeaderCount,
		OnReject: func(r *http.Request, err error) {
			attrs := []any{"err", err}
			var le *limits.Error
			if errors.As(err, &le) {
				attrs = append(attrs, "reason", le.Reason.String())
			}
			if r != nil {
				attrs = append(attrs, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			}
			logger.Warn("refused", attrs...)
		},
	})
	if err != nil {
		return err
	}

	rate := timeouts.Rate{BytesPerSecond: o.minRate, GracePeriod: o.minRateGrace}
	pol, err := timeouts.New(timeouts.Config{
		KeepAliveTimeout:       o.keepAlive,
		RequestHeadersTimeout:  o.headerTimeout,
		MinRequestBodyDataRate: rate,
		MinResponseDataRate:    rate,
		OnViolation: func(r *http.Request, err error) {
			logger.Warn("too slow", "err", err, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		},
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:  lim.Handler(pol.Handler(routes())),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	lim.Apply(srv)
	pol.Apply(srv)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	ln = lim.Listener(ln)
	fmt.Fprintf(stdout, "windhover example server listening on http://%s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("draining", "timeout", o.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	st, ts := lim.Stats(), pol.Stats()
	logger.Info("stopped", "accepted", st.AcceptedConnections, "refused", st.RejectedTotal(),
		"too_slow", ts.BodyRateViolations+ts.ResponseRateViolations)
	return nil
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, timeouts.ErrMinRequestBodyDataRate) {
			return // windhover answers 413 or 408
		}
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}
