// Command server is windhover's example server: net/http behind the
// toolkit's protections, useful as is and as a template.
//
//	go run ./examples/server                     # http://127.0.0.1:8080
//	go run ./examples/server -addr :9000 -max-body 1048576
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
//	GET  /metrics          Prometheus metrics: requests, connections, every policy
//
// -bare serves the same routes with none of the toolkit, for comparison.
//
// It drains and exits on SIGINT or SIGTERM. The packages it composes so far:
// limits (Kestrel's connection, upgrade, request line, header and body
// limits, and HTTP/2 settings) and timeouts (keep-alive and header timeouts,
// minimum data rates for request bodies and responses).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
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

// run serves until ctx ends, then drains. Once it accepts connections it
// prints one line to stdout with its addresses, separated by spaces:
// "windhover example server listening on http://127.0.0.1:8080 unix:/path".
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

	var tk *toolkit
	var certs *certauth.Policy
	metricsHandler := promhttp.Handler() // -bare: the Go runtime's metrics only
	if !o.bare {
		if tk, err = newToolkit(o, logger); err != nil {
			return err
		}
		certs = tk.certs
		metricsHandler = promhttp.HandlerFor(tk.registry, promhttp.HandlerOpts{})
	}
	srv := &http.Server{
		Handler:  routes(o.bare, whoami(certs), metricsHandler),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
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

	if tk != nil {
		tk.apply(srv)
	}

	wrap := func(ln net.Listener) net.Listener { return ln }
	if tk != nil {
		wrap = tk.lim.Listener // connections count before their TLS handshake
	}
	eps, err := listen(o, wrap)
	if err != nil {
		return err
	}
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = ep.url
	}
	fmt.Fprintln(stdout, "windhover example server listening on "+strings.Join(urls, " "))

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
	logger.Info("draining", "timeout", o.shutdownTimeout)
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
	if tk != nil {
		tk.logStats()
	} else {
		logger.Info("stopped")
	}
	return nil
}

// endpoint is a listener and whether it serves TLS.
type endpoint struct {
	ln  net.Listener
	tls bool
	url string
}

// listen opens the listeners the options ask for and wraps each.
func listen(o options, wrap func(net.Listener) net.Listener) ([]endpoint, error) {
	var eps []endpoint
	fail := func(err error) ([]endpoint, error) {
		for _, ep := range eps {
			ep.ln.Close()
		}
		return nil, err
	}
	if o.addr != "" {
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			return fail(err)
		}
		scheme := "http"
		if o.tlsCert != "" {
			scheme = "https"
		}
		eps = append(eps, endpoint{wrap(ln), o.tlsCert != "", scheme + "://" + ln.Addr().String()})
	}
	if o.unix != "" {
		ln, err := net.Listen("unix", o.unix)
		if err != nil {
			return fail(err)
		}
		eps = append(eps, endpoint{wrap(ln), false, "unix:" + o.unix})
	}
	return eps, nil
}

// toolkit is windhover's policies, composed.
type toolkit struct {
	logger *slog.Logger
	lim    *limits.Limiter
	pol    *timeouts.Policy
	hosts  *hostfilter.Filter
	certs  *certauth.Policy

	metrics  *metrics.Metrics
	registry *prometheus.Registry
}

func newToolkit(o options, logger *slog.Logger) (*toolkit, error) {
	tk := &toolkit{logger: logger}
	var err error
	tk.lim, err = limits.New(limits.Config{
		MaxConcurrentConnections:         o.maxConns,
		MaxConcurrentUpgradedConnections: o.maxUpgraded,
		MaxRequestBodySize:               o.maxBody,
		MaxRequestHeaderCount:            o.maxHeaderCount,
		OnReject:                         tk.refused,
	})
	if err != nil {
		return nil, err
	}
	tk.hosts, err = hostfilter.New(hostfilter.Config{
		AllowedHosts: hostfilter.ParseAllowedHosts(o.allowedHosts),
		OnReject:     tk.refused,
	})
	if err != nil {
		return nil, err
	}
	ccfg := certauth.Config{TrustedProxies: splitList(o.trustedProxies), OnReject: tk.refused}
	if ccfg.Mode, err = parseMode(o.clientCertMode); err != nil {
		return nil, err
	}
	if o.clientCA != "" {
		if ccfg.ClientCAs, err = loadPool(o.clientCA); err != nil {
			return nil, err
		}
	}
	if tk.certs, err = certauth.New(ccfg); err != nil {
		return nil, err
	}
	if tk.metrics, err = metrics.New(metrics.Config{}); err != nil {
		return nil, err
	}
	tk.pol, err = timeouts.New(timeouts.Config{
		KeepAliveTimeout:       o.keepAlive,
		RequestHeadersTimeout:  o.headerTimeout,
		MinRequestBodyDataRate: o.bodyRate,
		MinResponseDataRate:    o.responseRate,
		OnViolation: func(r *http.Request, err error) {
			logger.Warn("too slow", "err", err, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		},
	})
	if err != nil {
		return nil, err
	}
	tk.registry = prometheus.NewRegistry()
	err = tk.registry.Register(tk.metrics)
	for _, c := range []prometheus.Collector{
		tk.metrics.Limits(tk.lim), tk.metrics.Timeouts(tk.pol), tk.metrics.HostFilter(tk.hosts), tk.metrics.CertAuth(tk.certs),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		err = errors.Join(err, tk.registry.Register(c))
	}
	if err != nil {
		return nil, err
	}
	return tk, nil
}

// refused logs a policy's refusal with its reason, as each policy's error
// carries it. r is nil for a connection refused before any request.
func (tk *toolkit) refused(r *http.Request, err error) {
	attrs := []any{"err", err}
	var le *limits.Error
	var he *hostfilter.Error
	var ce *certauth.Error
	switch {
	case errors.As(err, &ce):
		attrs = append(attrs, "policy", "certauth", "reason", ce.Reason.String())
	case errors.As(err, &le):
		attrs = append(attrs, "policy", "limits", "reason", le.Reason.String())
	case errors.As(err, &he):
		attrs = append(attrs, "policy", "hostfilter", "reason", he.Reason.String())
	}
	if r != nil {
		attrs = append(attrs, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	}
	tk.logger.Warn("refused", attrs...)
}

// apply puts the policies on srv: its handler and its settings.
func (tk *toolkit) apply(srv *http.Server) {
	srv.Handler = tk.metrics.Handler(tk.hosts.Handler(tk.lim.Handler(tk.certs.Handler(tk.pol.Handler(tk.metrics.Route(srv.Handler))))))
	if srv.TLSConfig != nil {
		tk.certs.Apply(srv)
		srv.TLSConfig = tk.metrics.TLSConfig(srv.TLSConfig)
	}
	tk.lim.Apply(srv)
	tk.pol.Apply(srv)
	tk.metrics.Apply(srv)
}

func (tk *toolkit) logStats() {
	st, ts, hs := tk.lim.Stats(), tk.pol.Stats(), tk.hosts.Stats()
	tk.logger.Info("stopped", "accepted", st.AcceptedConnections, "refused", st.RejectedTotal()+hs.RejectedTotal(),
		"too_slow", ts.BodyRateViolations+ts.ResponseRateViolations)
}
