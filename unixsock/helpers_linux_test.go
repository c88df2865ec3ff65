//go:build linux

package unixsock

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// childEnv, set in a re-executed test binary, names the part it plays
// instead of running the tests (see children).
const childEnv = "WINDHOVER_UNIXSOCK_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		run, ok := children[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
			os.Exit(2)
		}
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// noRaceExitSleep, in a child's environment, spares it the race
// detector's second of sleep at exit.
const noRaceExitSleep = "GORACE=atexit_sleep_ms=0"

// children are the parts a re-executed test binary can play, by the value
// of childEnv. Each returns the exit status.
var children = map[string]func() int{}

var checkNoLeaks = testserver.CheckNoLeaks

// shortDir returns a new directory with a short path, removed when the test
// ends: t.TempDir's paths, named after the test, can leave too little of a
// socket path's 108 bytes for the private directory Listen binds in.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "us")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// socketPath returns the path of a socket not yet made, in a new directory.
func socketPath(t testing.TB) string {
	return filepath.Join(shortDir(t), "s.sock")
}

// statOf returns path's stat without following a symbolic link.
func statOf(t testing.TB, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(path, &st), "lstat %s", path)
	return &st
}

// staleSocket leaves a socket file at path that nobody listens on.
func staleSocket(t testing.TB, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
}

// proto is how a test client talks to a server over a Unix socket.
type proto string

const (
	h1  proto = "h1"  // HTTP/1.1
	h2c proto = "h2c" // HTTP/2 with prior knowledge
	h2  proto = "h2"  // HTTP/2 over TLS
)

var allProtos = []proto{h1, h2c, h2}

// serve serves h on ln speaking p, until the test ends. setup may adjust the
// server before it starts. It returns a client that reaches the server
// whatever the URL's host, and the URL to use.
func serve(t testing.TB, ln net.Listener, h http.Handler, p proto, setup ...func(*http.Server)) (*http.Client, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	require.NoError(t, ts.Listener.Close()) // the TCP listener httptest made
	ts.Listener = ln
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, f := range setup {
		f(ts.Config)
	}
	tr := &http.Transport{Protocols: new(http.Protocols)}
	base := "http://unix"
	switch p {
	case h1:
		ts.Start()
		tr.Protocols.SetHTTP1(true)
	case h2c:
		ts.Config.Protocols = new(http.Protocols)
		ts.Config.Protocols.SetHTTP1(true)
		ts.Config.Protocols.SetUnencryptedHTTP2(true)
		ts.Start()
		tr.Protocols.SetUnencryptedHTTP2(true)
	case h2:
		ts.EnableHTTP2 = true
		ts.StartTLS()
		tr.TLSClientConfig = &tls.Config{RootCAs: testserver.RootCAs(ts)}
		tr.Protocols.SetHTTP2(true)
		base = "https://example.com" // a name in httptest's certificate
	}
	network, addr := ln.Addr().Network(), ln.Addr().String()
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
	})
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, base
}

// get sends a GET for base+target and returns the response's status, its
// HTTP major version and its body.
func get(t testing.TB, c *http.Client, url string) (int, int, string) {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	return res.StatusCode, res.ProtoMajor, strings.TrimSpace(readAll(t, res))
}

// readAll reads and closes res's body.
func readAll(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}
