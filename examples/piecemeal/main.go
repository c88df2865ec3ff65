// Command piecemeal is an ordinary net/http server that takes windhover's
// protections one line at a time: each line below marked "windhover" can
// be added or removed on its own, and none of them changes the handlers.
//
//	go run ./examples/piecemeal          # http://127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/windhover/windhover/hostfilter"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "TCP address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string, stdout io.Writer) error {
	// The application as it was.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return // windhover has answered: 413 too large, 408 too slow
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	var h http.Handler = mux

	// windhover, one line at a time.
	h = limits.MaxRequestBodySize(1 << 20).Handler(h)                  // 413 over 1 MiB
	h = limits.MaxRequestHeaders(100, 32<<10).Handler(h)               // 431, Kestrel's bounds
	h = hostfilter.Allow("localhost", "127.0.0.1", "[::1]").Handler(h) // 400 for other hosts
	rates := timeouts.MinDataRates(timeouts.Rate{}, timeouts.Rate{})   // 240 B/s after 5 s, both ways
	h = rates.Handler(h)

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// Bounds unsent bytes, so the response rate sees slow readers; "OPTIONS
	// *" through the policies. An error names a setting of srv the rates
	// would have to weaken.
	if err := rates.Apply(srv); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ln = limits.MaxConcurrentConnections(1000).Listener(ln) // windhover: at most 1,000 connections
	fmt.Fprintf(stdout, "piecemeal listening on http://%s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
