package graceful

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestOneServerManyListeners serves one http.Server on TCP and on a Unix
// socket: a slow request in flight on each completes, both listeners close,
// the group's ConnState hook is chained once (each connection counted once),
// the server's own hook is kept, and the server is shut down once.
func TestOneServerManyListeners(t *testing.T) {
	checkNoLeaks(t)
	g := mustNew(t, Config{DisableSignals: true, ShutdownTimeout: 5 * time.Second})
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	var news, shutdowns atomic.Int32
	srv := &http.Server{
		Handler: g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			_, _ = io.WriteString(w, "done")
		})),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				news.Add(1)
			}
		},
	}
	srv.RegisterOnShutdown(func() { shutdowns.Add(1) })
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g.Add(srv, tcp)
	g.Add(srv, unix)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	dialers := map[string]func(context.Context, string, string) (net.Conn, error){
		"tcp": func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", tcp.Addr().String())
		},
		"unix": func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}
	bodies := make(chan string, 2)
	for _, dial := range dialers {
		go func() {
			c := &http.Client{Transport: &http.Transport{DialContext: dial}}
			defer c.CloseIdleConnections()
			res, err := c.Get("http://x/")
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bodies <- string(b)
		}()
	}
	<-entered
	<-entered
	if n := news.Load(); n != 2 {
		t.Errorf("the server's own hook saw %d new connections, want 2", n)
	}
	// The user's hook runs once per connection however often the group's
	// is chained; the group's counts show that it was chained once.
	if s := g.Stats(); s.Conns != 2 || s.Requests != 2 {
		t.Errorf("stats: %+v, want two connections and two requests", s)
	}
	cancel()
	// A connection probing the listeners before the stop began would count.
	waitState(t, g, StateStopping)
	refused := func(network, addr string) bool {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}
	eventually(t, func() bool { return refused("tcp", tcp.Addr().String()) && refused("unix", sock) }, "both listeners closed")
	close(release)
	for range 2 {
		if b := <-bodies; b != "done" {
			t.Errorf("a request in flight got %q", b)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Shutdown starts the RegisterOnShutdown functions in goroutines of
	// their own and does not wait for them.
	eventually(t, func() bool { return shutdowns.Load() >= 1 }, "the server was not shut down")
	time.Sleep(10 * time.Millisecond)
	if n := shutdowns.Load(); n != 1 {
		t.Errorf("the server was shut down %d times, want 1", n)
	}
	if rep := g.Report(); rep.Conns != 2 || rep.InFlight != 2 || rep.Completed != 2 {
		t.Errorf("report: %+v", rep)
	}
}
