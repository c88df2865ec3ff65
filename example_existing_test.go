package windhover_test

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/windhover/windhover"
)

// An existing TLS server, with a logging middleware, hooks and its own
// metrics, hardened: seven added lines are all it takes, where the
// packages one by one took 98 (nine handler wraps, six Apply calls, two
// listener wraps, eleven collector registrations and their errors). The
// server keeps its TLS configuration, hooks and handler; Run replaces
// ListenAndServeTLS, serves on srv.Addr, and drains on SIGINT or SIGTERM.
func ExampleHarden_existingServer() {
	cert, err := tls.LoadX509KeyPair("server.crt", "server.key")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	mux.Handle("GET /metrics", promhttp.Handler())
	srv := &http.Server{
		Addr:      ":8443",
		Handler:   logRequests(mux),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ConnState: func(net.Conn, http.ConnState) {},
	}

	// windhover: the seven lines below, and Run in place of ListenAndServeTLS.
	s, err := windhover.Harden(srv, windhover.Config{AllowedHosts: []string{"example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Register(prometheus.DefaultRegisterer); err != nil {
		log.Fatal(err)
	}
	log.Fatal(s.Run(context.Background())) // was: log.Fatal(srv.ListenAndServeTLS("", ""))
}

// logRequests is the logging middleware the server had.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		log.Printf("%s %s %v", r.Method, r.URL.Path, time.Since(start))
	})
}
