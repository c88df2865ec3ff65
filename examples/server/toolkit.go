package main

import (
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
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

// maxScrapes bounds the scrapes of /metrics at once.
const maxScrapes = 4

// toolkit is windhover's policies, composed.
type toolkit struct {
	logger *slog.Logger
	logs   *logLimiter // refusals and net/http's errors, which clients can cause at will
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
	tk := &toolkit{logger: logger, logs: newLogLimiter(logger, logBurst, logEvery)}
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
	if tk.certs, err = newCertPolicy(o, tk.refused); err != nil {
		return nil, err
	}
	if o.trustedProxies != "" {
		// The proxies are trusted for what each policy can use them for.
		switch {
		case o.rate == 0 && o.clientCA == "":
			logger.Warn("-trusted-proxies has no effect: only -rate (X-Forwarded-For) and -client-ca (X-Client-Cert) believe forwarded headers")
		case o.clientCA == "":
			logger.Info("-trusted-proxies: X-Forwarded-For is believed for -rate; X-Client-Cert, without -client-ca to validate it, is removed from every request")
		}
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
			k := logKind{"timeouts", "min_response_data_rate"}
			if errors.Is(err, timeouts.ErrMinRequestBodyDataRate) {
				k.reason = "min_request_body_data_rate"
			}
			tk.logs.warn(k, "too slow", "err", err, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
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
// carries it, through the log limiter: the policies count every refusal,
// and a flood of them must not flood the log. r is nil for a connection
// refused before any request.
func (tk *toolkit) refused(r *http.Request, err error) {
	var k logKind
	var le *limits.Error
	var he *hostfilter.Error
	var ce *certauth.Error
	var pe *unixsock.PeerError
	switch {
	case errors.As(err, &pe):
		k = logKind{"unixsock", pe.Reason.String()}
	case errors.As(err, &ce):
		k = logKind{"certauth", ce.Reason.String()}
	case errors.As(err, &le):
		k = logKind{le.Reason.Policy(), le.Reason.String()}
	case errors.As(err, &he):
		k = logKind{"hostfilter", he.Reason.String()}
	}
	attrs := []any{"err", err}
	if r != nil {
		attrs = append(attrs, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	}
	tk.logs.warn(k, "refused", attrs...)
}

// errorLog is http.Server.ErrorLog: net/http's own lines at level WARN,
// through the log limiter, since clients cause most of them at will (a TLS
// handshake error for every connection that sends garbage).
func (tk *toolkit) errorLog() *log.Logger {
	return log.New(errorLogWriter{tk.logs}, "", 0)
}

// errorLogWriter takes each Write as one line of http.Server.ErrorLog, as
// log.Logger writes them.
type errorLogWriter struct{ logs *logLimiter }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	k := logKind{"net/http", "error_log"}
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		k.reason = "tls_handshake_error"
	}
	w.logs.warn(k, msg)
	return len(p), nil
}

// apply puts the policies on srv: its handler, which serves app and the
// platform's endpoints (probes' ServeMux), and its settings. An error names
// a setting of srv a policy would have to weaken.
func (tk *toolkit) apply(srv *http.Server, app, platform http.Handler) error {
	// Outermost first: requests are counted for the drain and measured;
	// then refused as cheaply as possible, a flooding client before it
	// can take a slot of the concurrency limit.
	h := tk.pol.Handler(tk.metrics.Route(app))
	h = tk.certs.Handler(h)
	if tk.conc != nil {
		h = tk.conc.Handler(h)
	}
	h = tk.lim.Handler(h)
	if tk.rate != nil {
		h = tk.rate.Handler(h)
	}
	h = tk.hosts.Handler(h)
	// The platform must get its answers when the server is busiest, or it
	// restarts or unlists a server that is only busy, and loses the metrics
	// that would say so: its endpoints are outside the rate and concurrency
	// limits, under every other protection. Liveness and readiness, which
	// answer constants, are outside the host filter too, since Kubernetes'
	// probes name the pod's address as Host; /metrics, which tells more, is
	// not (give the address to -allowed-hosts).
	p := tk.lim.Handler(tk.certs.Handler(tk.pol.Handler(tk.metrics.Route(platform))))
	h = &exempt{next: h, paths: map[string]http.Handler{
		healthzPath: p, readyzPath: p, metricsPath: tk.hosts.Handler(p),
	}}
	srv.Handler = tk.group.Handler(tk.metrics.Handler(h))
	srv.ErrorLog = tk.errorLog()
	if srv.TLSConfig != nil {
		if err := tk.certs.Apply(srv); err != nil {
			return err
		}
		srv.TLSConfig = tk.metrics.TLSConfig(srv.TLSConfig)
	}
	return errors.Join(tk.hosts.Apply(srv), tk.lim.Apply(srv), tk.pol.Apply(srv), tk.metrics.Apply(srv))
}

// exempt serves the requests for its paths with their handlers, and every
// other request with next. A path must match exactly, and the handlers for
// them end in a ServeMux that serves those paths alone: a request that only
// looks like one of them cannot reach the application around next.
type exempt struct {
	next  http.Handler
	paths map[string]http.Handler
}

// HandlesOptionsStar says that exempt hands "OPTIONS *" on to the
// policies behind it (its path, "*", is none of the exempt ones), so that
// metrics.Handler in front does not answer it for them: a windhover handler
// answers "OPTIONS *" itself when the next handler is not one of windhover's
// (see package internal/star), and a router between two of them must say it
// passes the request on, or the policies behind it never see it.
func (e *exempt) HandlesOptionsStar() {}

func (e *exempt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := e.paths[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	e.next.ServeHTTP(w, r)
}

// watch registers the metrics of a Unix socket the server listens on.
func (tk *toolkit) watch(ln net.Listener) error {
	if u, ok := ln.(*unixsock.Listener); ok {
		return tk.registry.Register(tk.metrics.UnixSocket(u))
	}
	return nil
}

// metricsHandler serves the toolkit's registry. Outside the rate and
// concurrency limits, it bounds its own scrapes, each of which gathers
// every collector: one more at once gets 503.
func (tk *toolkit) metricsHandler() http.Handler {
	return promhttp.HandlerFor(tk.registry, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapes})
}

// logStopped logs how the drain went and what the policies did.
func (tk *toolkit) logStopped() {
	tk.logs.flush()
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
