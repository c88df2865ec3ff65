package benchmarks

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/limits"
)

// TestHardenChi: an existing server whose handler is a chi router with chi's
// own middlewares keeps them, and gets every protection from one Harden
// call, over HTTP/1.1 on a real socket.
func TestHardenChi(t *testing.T) {
	var logged atomic.Int32
	r := chi.NewRouter()
	r.Use(middleware.RequestID, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			logged.Add(1)
		})
	})
	r.Post("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%s %d %t", chi.URLParam(r, "id"), n, middleware.GetReqID(r.Context()) != "")
	})
	srv := &http.Server{Handler: r}
	s, err := windhover.Harden(srv, windhover.Config{
		Limits:       limits.Config{MaxRequestBodySize: 10},
		AllowedHosts: []string{"example.com"},
		Shutdown:     graceful.Config{ShutdownTimeout: 5 * time.Second, Signals: []os.Signal{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()

	post := func(host, body string) string {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/items/7", strings.NewReader(body))
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(b)))
	}
	for _, c := range []struct{ host, body, want string }{
		{"example.com", "0123456789", "200 7 10 true"},
		{"example.com", "0123456789x", "413 Request Entity Too Large"},
		{"evil.example", "", "400 invalid hostname"},
	} {
		if got := post(c.host, c.body); got != c.want {
			t.Errorf("POST %q to %s: %q, want %q", c.body, c.host, got, c.want)
		}
	}
	if logged.Load() != 2 {
		t.Errorf("chi's middleware ran %d times, want 2 (the host refusal never reaches the application)", logged.Load())
	}
	http.DefaultClient.CloseIdleConnections()
}
