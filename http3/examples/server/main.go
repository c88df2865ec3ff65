// Command server is windhover's example server with HTTP/3: the routes of
// the main module's examples/server, hardened by windhover.Harden, served
// over TLS on TCP (HTTP/1.1 and HTTP/2) and over QUIC (HTTP/3) on the same
// port number, drained together. It lives in the http3 module because the
// main module's example cannot import quic-go.
//
//	go run ./examples/server -tls-cert cert.pem -tls-key key.pem              # https://127.0.0.1:8443, TCP and UDP
//	go run ./examples/server -tls-cert cert.pem -tls-key key.pem -h3 :9443    # HTTP/3 on another port
//	go run ./examples/server -config appsettings.json -tls-cert ... -tls-key ...
//
// Routes:
//
//	GET  /                 "hello over HTTP/3.0\n" (or the protocol used)
//	POST /upload           reads the body and answers its size in bytes
//	GET  /stream?bytes=N   streams N zero bytes
//	GET  /slow?d=2s        waits, then answers (for drain tests)
//	GET  /whoami           the client certificate's identity (403 without one)
//	GET  /healthz          liveness
//	GET  /readyz           readiness: 200, or 503 from the moment it stops
//	GET  /metrics          Prometheus metrics, QUIC's (network_transport="udp") included
//
// TLS responses on TCP carry Alt-Svc, so a browser that first came over TCP
// moves to HTTP/3. Debian's curl speaks no HTTP/3; quic-go's client does.
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
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/timeouts"
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

// run serves until ctx ends or SIGINT or SIGTERM arrives, then drains. Once
// it serves it prints one line to stdout:
//
//	windhover example server listening on https://127.0.0.1:8443 h3://127.0.0.1:8443
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "an ASP.NET Core appsettings.json to read the windhover.Config from")
	addr := fs.String("addr", "127.0.0.1:8443", "the TCP address (TLS: HTTP/1.1 and HTTP/2)")
	h3addr := fs.String("h3", "", "the UDP address of HTTP/3 (default: -addr's)")
	cert := fs.String("tls-cert", "", "the server's certificate, PEM (required)")
	key := fs.String("tls-key", "", "its private key, PEM (required)")
	clientCA := fs.String("client-ca", "", "PEM roots of client certificates: asked for, not required (/whoami)")
	hosts := fs.String("allowed-hosts", "", "AllowedHosts, ';'-separated (default: any)")
	maxBody := fs.Int64("max-body", 0, "MaxRequestBodySize in bytes (default: Kestrel's 30,000,000)")
	maxConns := fs.Int("max-conns", 0, "MaxConcurrentConnections, for TCP and QUIC together (default: none)")
	streams := fs.Int64("max-streams", 0, "requests a QUIC connection may have open at once (default: 100)")
	shutdown := fs.Duration("shutdown-timeout", 0, "how long the drain may take (default: 30s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		return errors.New("-tls-cert and -tls-key are required: HTTP/3 is TLS")
	}
	cfg := windhover.Config{}
	if *config != "" {
		var err error
		if cfg, err = windhover.LoadConfig(*config); err != nil {
			return err
		}
		cfg.Endpoints = nil // -addr and -h3 say where
	}
	cfg.Certificate = windhover.CertificateFiles{CertFile: *cert, KeyFile: *key}
	if *clientCA != "" {
		cfg.ClientCAFiles = []string{*clientCA}
		cfg.ClientCertificates.Mode = certauth.AllowCertificate
	}
	if *hosts != "" {
		cfg.AllowedHosts = strings.Split(*hosts, ";")
	}
	if *maxBody != 0 {
		cfg.Limits.MaxRequestBodySize = *maxBody
	}
	if *maxConns != 0 {
		cfg.Limits.MaxConcurrentConnections = *maxConns
	}
	if *shutdown != 0 {
		cfg.Shutdown.ShutdownTimeout = *shutdown
	}
	cfg.LivePath, cfg.ReadyPath, cfg.MetricsPath = "/healthz", "/readyz", "/metrics"
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.OnReject = func(r *http.Request, err error) {
		rf, _ := windhover.RefusalOf(err)
		logger.Info("refused", "policy", rf.Policy, "reason", rf.Reason, "status", rf.Status)
	}

	mux := routes()
	s, err := windhover.Harden(&http.Server{Handler: mux}, cfg)
	if err != nil {
		return err
	}
	mux.Handle("GET /whoami", s.ClientCertificates().Require(http.HandlerFunc(whoami)))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	udp := *h3addr
	if udp == "" {
		udp = ln.Addr().String()
	}
	pc, err := net.ListenPacket("udp", udp)
	if err != nil {
		ln.Close()
		return err
	}
	h3, err := http3.New(s, pc, http3.Config{MaxIncomingStreams: *streams})
	if err != nil {
		ln.Close()
		pc.Close()
		return err
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(s.Register(reg), reg.Register(h3.Collector(""))); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "windhover example server listening on https://%s h3://%s\n", ln.Addr(), h3.Addr())
	err = s.Run(ctx, ln)
	rep, st := s.Group().Report(), h3.Stats()
	logger.Info("stopped", "drain", rep.Duration.Round(time.Millisecond), "completed", rep.Completed,
		"unfinished", rep.Unfinished, "quic_accepted", st.Accepted, "quic_refused", st.Refused, "quic_retries", st.Retries)
	return err
}

// routes are the main module's example routes, without the WebSocket (no
// upgrade exists over HTTP/3).
func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello over "+r.Proto+"\n")
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
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "bytes: a count from 0 to 1073741824", http.StatusBadRequest)
			return
		}
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
			_, _ = io.WriteString(w, "done\n")
		case <-r.Context().Done():
		}
	})
	return mux
}

func whoami(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, certauth.FromRequest(r).Subject+"\n")
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
