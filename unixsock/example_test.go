package unixsock_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/windhover/windhover/unixsock"
)

// Socket activation with a fallback: under systemd the socket unit's
// listener named "http" is served; run by hand, the program listens itself.
func ExampleActivated() {
	var ln net.Listener
	ss, err := unixsock.Activated(true)
	switch {
	case err == nil:
		ln = ss.Listener("http")
		if ln == nil {
			log.Fatal("no socket named http was passed")
		}
	case errors.Is(err, unixsock.ErrNotActivated):
		ln, err = unixsock.Listen("/run/app/http.sock", unixsock.Config{Lock: true})
		if err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatal(err) // malformed LISTEN_* variables
	}
	log.Fatal(http.Serve(ln, http.NotFoundHandler()))
}

// A socket for the web server in front: group www-data may connect, nobody
// else; a second instance fails with ErrInUse instead of taking the path.
func ExampleListen() {
	ln, err := unixsock.Listen("/run/app/http.sock", unixsock.Config{
		Mode: 0o660,
		GID:  new(33), // www-data on Debian
		Lock: true,
	})
	if errors.Is(err, unixsock.ErrInUse) {
		log.Fatal("already running: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(ln, http.NotFoundHandler()))
}

// An abstract socket has no file, so no mode: check who connects.
func ExampleListen_abstract() {
	ln, err := unixsock.Listen("@app-admin", unixsock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	filter, err := unixsock.NewPeerFilter(unixsock.PeerConfig{UIDs: []int{0}})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: filter.Handler(http.NotFoundHandler())}
	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
	log.Fatal(srv.Serve(ln))
}

// ConnContext chains the hook a server already has; that hook sees the
// credentials too.
func ExampleConnContext() {
	srv := &http.Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cred, ok := unixsock.PeerCredFromContext(ctx); ok {
				slog.Info("connection", "peer", cred.String())
			}
			return ctx
		},
	}
	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
}

// Refusals logged with slog, and counted for metrics.
func ExamplePeerFilter() {
	filter, err := unixsock.NewPeerFilter(unixsock.PeerConfig{
		UIDs: []int{os.Geteuid()},
		GIDs: []int{33},
		OnReject: func(r *http.Request, err error) {
			slog.Warn("refused", "path", r.URL.Path, "err", err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = filter.Handler(http.NotFoundHandler())
	stats := filter.Stats()
	slog.Info("peers", "admitted", stats.Admitted, "refused", stats.RejectedTotal(),
		"unknown", stats.Rejected[unixsock.ReasonNoPeerCred])
}
