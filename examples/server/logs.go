package main

import (
	"errors"
	"log"
	"net/http"
	"strings"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// refused is Config.OnReject: it logs every policy's refusal, by the policy
// and reason windhover.RefusalOf reads from it, through the log limiter,
// since the policies count every refusal and a flood of them must not flood
// the log. r is nil for a connection refused before any request.
func (l *logLimiter) refused(r *http.Request, err error) {
	ref, ok := windhover.RefusalOf(err)
	if !ok {
		ref.Policy, ref.Reason = "unknown", "unknown"
	}
	msg := "refused"
	if ref.Policy == "timeouts" {
		msg = "too slow" // a client cut below the minimum data rates
	}
	attrs := []any{"err", err}
	var le *limits.Error
	var te *timeouts.TimeoutError
	switch {
	case r != nil:
		attrs = append(attrs, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	case errors.As(err, &le) && le.Addr != nil:
		// A connection, or a head refused on the wire before any request.
		attrs = append(attrs, "remote", le.Addr.String())
	case errors.As(err, &te) && te.Addr != nil:
		attrs = append(attrs, "remote", te.Addr.String())
	}
	l.warn(logKind{ref.Policy, ref.Reason}, msg, attrs...)
}

// errorLog is http.Server.ErrorLog: net/http's own lines at level WARN,
// through the log limiter, since clients cause most of them at will (a TLS
// handshake error for every connection that sends garbage).
func (l *logLimiter) errorLog() *log.Logger {
	return log.New(errorLogWriter{l}, "", 0)
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
