package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/websocket"

	"github.com/windhover/windhover/timeouts"
)

// maxStream bounds GET /stream, so that one request cannot ask for more than
// a client could want from an example.
const maxStream = 1 << 30

// The paths of the endpoints for the platform rather than for clients.
const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
	metricsPath = "/metrics"
)

// routes are the application's endpoints, the same with or without the
// toolkit, but for GET /whoami, which the caller adds: it needs the client
// certificate policy of the server the routes are hardened into.
func routes(bare bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		var tooLarge *http.MaxBytesError
		if !bare && (errors.As(err, &tooLarge) || errors.Is(err, timeouts.ErrMinRequestBodyDataRate)) {
			return // windhover answers 413 or 408
		}
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 || n > maxStream {
			http.Error(w, "bytes: a count from 0 to 1073741824", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.CopyN(w, zeros{}, n)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > time.Hour {
			http.Error(w, "d: a duration up to 1h, such as 2s", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(d):
			fmt.Fprintf(w, "waited %v\n", d)
		case <-r.Context().Done():
		}
	})
	mux.Handle("GET /ws", websocket.Handler(func(c *websocket.Conn) {
		_, _ = io.Copy(c, c)
	}))
	return mux
}

// probes adds to mux the endpoints a platform calls, for -bare: liveness,
// readiness and metrics. The hardened server has them from its Config
// (LivePath, ReadyPath and MetricsPath), outside the limits that would
// refuse a probe.
func probes(mux *http.ServeMux, metrics, ready http.Handler) *http.ServeMux {
	mux.HandleFunc("GET "+healthzPath, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET "+readyzPath, ready)
	mux.Handle("GET "+metricsPath, metrics)
	return mux
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
