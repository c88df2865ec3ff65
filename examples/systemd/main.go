// Command systemd serves HTTP on the socket systemd passes it by socket
// activation or, started by hand, on a Unix socket it makes itself: the
// same program, with and without the unit files beside it.
//
// By hand:
//
//	go run ./examples/systemd -socket /tmp/app.sock
//	curl --unix-socket /tmp/app.sock http://localhost/
//	curl --unix-socket /tmp/app.sock --http2-prior-knowledge http://localhost/
//
// Under systemd (see windhover-example.socket and .service):
//
//	go build -o /usr/local/bin/windhover-example ./examples/systemd
//	cp examples/systemd/windhover-example.* /etc/systemd/system/
//	systemctl daemon-reload
//	systemctl enable --now windhover-example.socket
//	curl --unix-socket /run/windhover-example/http.sock http://localhost/
//
// systemd then owns the socket file: it makes it with the unit's mode and
// group, starts the service on the first connection, holds connections
// while the service restarts, and the program never creates or removes
// the file. Each response names the peer's user, group and process, which
// the kernel reports for a Unix socket; with -allow-uid or -allow-gid only
// those peers are served, others get 403.
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
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/windhover/windhover/unixsock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "windhover-example:", err)
		os.Exit(1)
	}
}

// octal is a flag value written in octal, as file modes are.
type octal uint32

func (o *octal) String() string { return fmt.Sprintf("%#o", uint32(*o)) }

func (o *octal) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	*o = octal(v)
	return err
}

// run serves until ctx ends, then drains for up to ten seconds.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("windhover-example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/run/windhover-example/http.sock", "the socket to make when not socket-activated")
	var mode octal = 0o660
	fs.Var(&mode, "mode", "the mode of that socket, in octal")
	allowUIDs := fs.String("allow-uid", "", "comma-separated user IDs to serve (default: everyone who may connect)")
	allowGIDs := fs.String("allow-gid", "", "comma-separated group IDs to serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var h http.Handler = http.HandlerFunc(hello)
	var err error
	if *allowUIDs != "" || *allowGIDs != "" {
		cfg := unixsock.PeerConfig{OnReject: func(r *http.Request, err error) {
			log.Warn("refused", "err", err)
		}}
		if cfg.UIDs, err = ids(*allowUIDs); err != nil {
			return fmt.Errorf("-allow-uid: %w", err)
		}
		if cfg.GIDs, err = ids(*allowGIDs); err != nil {
			return fmt.Errorf("-allow-gid: %w", err)
		}
		f, err := unixsock.NewPeerFilter(cfg)
		if err != nil {
			return err
		}
		h = f.Handler(h)
	}

	ln, how, err := listen(*socket, unixsock.Config{Mode: os.FileMode(mode), Lock: true})
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "how", how)

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // HTTP/2 over a socket: prior knowledge
	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown closes ln: a socket this program made is removed, one
	// systemd passed is left to systemd.
	return srv.Shutdown(shutdownCtx)
}

// listen returns the listener systemd passed under the name "http"
// (FileDescriptorName=http in the socket unit) or, when the program was not
// socket-activated, one on a socket it makes at path.
func listen(path string, cfg unixsock.Config) (net.Listener, string, error) {
	ss, err := unixsock.Activated(true)
	switch {
	case err == nil:
		ln := ss.Listener("http")
		if ln == nil {
			_ = ss.Close()
			return nil, "", errors.New("socket-activated, but with no listening socket named http")
		}
		for _, s := range ss {
			if s.Listener != ln {
				_ = s.Close() // not ours to serve
			}
		}
		return ln, "socket activation", nil
	case errors.Is(err, unixsock.ErrNotActivated):
		ln, err := unixsock.Listen(path, cfg)
		if err != nil {
			return nil, "", err
		}
		return ln, "own socket", nil
	}
	return nil, "", err
}

// hello names the peer.
func hello(w http.ResponseWriter, r *http.Request) {
	peer := "unknown (not a Unix socket)"
	if cred, ok := unixsock.PeerCredFromContext(r.Context()); ok {
		peer = cred.String()
	}
	fmt.Fprintf(w, "hello over %s, %s\n", r.Proto, peer)
}

// ids parses a comma-separated list of numeric IDs.
func ids(list string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a numeric ID", f)
		}
		out = append(out, n)
	}
	return out, nil
}
