package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/metrics"
	"github.com/windhover/windhover/timeouts"
	"github.com/windhover/windhover/unixsock"
	"golang.org/x/time/rate"
)

// toolkit is windhover's policies, composed.
type toolkit struct {
	logger *slog.Logger
	lim    *limits.Limiter
	pol    *timeouts.Policy
	hosts  *hostfilter.Filter
	certs  *certauth.Policy
	group  *graceful.Group
	rate   *limits.RateLimiter        // nil without -rate
	conc   *limits.ConcurrencyLimiter // nil without -max-concurrent

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
		MaxRequestLineSize:               o.maxLine,
		MaxRequestHeadersTotalSize:       o.maxHeaderBytes,
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
	if ccfg.Hosts, err = parseHostModes(o.clientCertHosts); err != nil {
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
	var extra []prometheus.Collector
	if o.rate != 0 {
		tk.rate, err = limits.NewRateLimiter(limits.RateConfig{
			Rate: rate.Limit(o.rate), Burst: o.burst, TrustedProxies: splitList(o.trustedProxies), OnReject: tk.refused,
		})
		if err != nil {
			return nil, err
		}
		extra = append(extra, tk.metrics.Rate(tk.rate))
	}
	if o.maxConcurrent != 0 || o.queue != 0 {
		tk.conc, err = limits.NewConcurrencyLimiter(limits.ConcurrencyConfig{
			MaxConcurrentRequests: o.maxConcurrent, RequestQueueLimit: o.queue, OnReject: tk.refused,
		})
		if err != nil {
			return nil, err
		}
		extra = append(extra, tk.metrics.Concurrency(tk.conc))
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
	tk.group, err = graceful.New(graceful.Config{ShutdownTimeout: o.shutdownTimeout, DrainDelay: o.drainDelay})
	if err != nil {
		return nil, err
	}
	tk.group.OnStopping(func() {
		logger.Info("stopping", "drain_delay", o.drainDelay, "shutdown_timeout", o.shutdownTimeout)
	})
	tk.registry = prometheus.NewRegistry()
	err = tk.registry.Register(tk.metrics)
	for _, c := range append(extra,
		tk.metrics.Limits(tk.lim), tk.metrics.Timeouts(tk.pol), tk.metrics.HostFilter(tk.hosts), tk.metrics.CertAuth(tk.certs),
		tk.metrics.Graceful(tk.group),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	) {
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
	var pe *unixsock.PeerError
	switch {
	case errors.As(err, &pe):
		attrs = append(attrs, "policy", "unixsock", "reason", pe.Reason.String())
	case errors.As(err, &ce):
		attrs = append(attrs, "policy", "certauth", "reason", ce.Reason.String())
	case errors.As(err, &le):
		attrs = append(attrs, "policy", le.Reason.Policy(), "reason", le.Reason.String())
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
	// Outermost first: requests are counted for the drain and measured;
	// then refused as cheaply as possible, a flooding client before it
	// can take a slot of the concurrency limit.
	h := tk.pol.Handler(tk.metrics.Route(srv.Handler))
	h = tk.certs.Handler(h)
	if tk.conc != nil {
		h = tk.conc.Handler(h)
	}
	h = tk.lim.Handler(h)
	if tk.rate != nil {
		h = tk.rate.Handler(h)
	}
	srv.Handler = tk.group.Handler(tk.metrics.Handler(tk.hosts.Handler(h)))
	if srv.TLSConfig != nil {
		tk.certs.Apply(srv)
		srv.TLSConfig = tk.metrics.TLSConfig(srv.TLSConfig)
	}
	tk.lim.Apply(srv)
	tk.pol.Apply(srv)
	tk.metrics.Apply(srv)
}

// watch registers the metrics of a Unix socket the server listens on.
func (tk *toolkit) watch(ln net.Listener) error {
	if u, ok := ln.(*unixsock.Listener); ok {
		return tk.registry.Register(tk.metrics.UnixSocket(u))
	}
	return nil
}

// metricsHandler serves the toolkit's registry.
func (tk *toolkit) metricsHandler() http.Handler {
	return promhttp.HandlerFor(tk.registry, promhttp.HandlerOpts{})
}

// logStopped logs how the drain went and what the policies did.
func (tk *toolkit) logStopped() {
	r := tk.group.Report()
	st, ts, hs, cs := tk.lim.Stats(), tk.pol.Stats(), tk.hosts.Stats(), tk.certs.Stats()
	refused := st.RejectedTotal() + hs.RejectedTotal() + cs.RejectedTotal()
	if tk.rate != nil {
		refused += tk.rate.Stats().RejectedTotal()
	}
	if tk.conc != nil {
		refused += tk.conc.Stats().RejectedTotal()
	}
	attrs := []any{
		"drain", r.Duration.Round(time.Millisecond), "in_flight", r.InFlight, "completed", r.Completed,
		"unfinished", r.Unfinished, "forced_closed", r.ForcedClosed + r.ForcedClosedHijacked,
		"timed_out", r.TimedOut, "forced", r.Forced,
		"accepted", st.AcceptedConnections,
		"refused", refused,
		"too_slow", ts.BodyRateViolations + ts.ResponseRateViolations,
	}
	if r.Cause != nil {
		attrs = append(attrs, "cause", r.Cause.Error())
	}
	tk.logger.Info("stopped", attrs...)
}

// promhttpHandler serves the Go runtime's metrics, for -bare.
func promhttpHandler() http.Handler { return promhttp.Handler() }
