//go:build linux

package unixsock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/windhover/windhover/unixsock"
)

// A server on a Unix socket that only its own user may use: the file mode
// keeps others from connecting, and the peer filter checks who did.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.sock")

	ln, err := unixsock.Listen(path, unixsock.Config{Mode: 0o600, Lock: true})
	if err != nil {
		log.Fatal(err)
	}
	filter, err := unixsock.NewPeerFilter(unixsock.PeerConfig{}) // the server's own user
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := unixsock.PeerCredFromContext(r.Context())
		fmt.Fprintf(w, "hello, process %v", cred.PID == os.Getpid())
	})
	srv := &http.Server{Handler: filter.Handler(hello)}
	srv.ConnContext = unixsock.ConnContext(srv.ConnContext)
	go srv.Serve(ln)

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	res, err := client.Get("http://app/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fi, _ := os.Stat(path)
	fmt.Println(res.Status, string(body))
	fmt.Println(fi.Mode())

	srv.Close() // closes ln, which removes the socket file
	_, err = os.Stat(path)
	fmt.Println("removed:", os.IsNotExist(err))
	// Output:
	// 200 OK hello, process true
	// Srw-------
	// removed: true
}

// A directory others may write to, without the sticky bit that /tmp has,
// lets them replace the socket: Listen refuses it and makes nothing there.
func ExampleListen_unsafeDirectory() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		log.Fatal(err)
	}

	_, err = unixsock.Listen(filepath.Join(dir, "app.sock"), unixsock.Config{})
	fmt.Println("refused:", errors.Is(err, unixsock.ErrUnsafeDirectory))

	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil { // chmod 1777, as /tmp
		log.Fatal(err)
	}
	ln, err := unixsock.Listen(filepath.Join(dir, "app.sock"), unixsock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("with the sticky bit:", filepath.Base(ln.Addr().String()))
	ln.Close()
	// Output:
	// refused: true
	// with the sticky bit: app.sock
}
