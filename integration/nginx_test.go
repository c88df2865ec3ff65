//go:build integration

package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
)

// TestNginxInFront puts nginx in front of the example server over a Unix
// socket, configured by examples/nginx/nginx.conf.template: requests pass, host filtering sees the host the client named, the
// client certificate nginx verified reaches certauth as the request's
// identity, and the same header sent straight to the server's TCP port by a
// peer it does not trust is removed.
func TestNginxInFront(t *testing.T) {
	nginx := requirePeer(t, "nginx")
	dir := t.TempDir()
	ca := testcert.NewCA(t, "windhover nginx CA")
	caFile := ca.WriteCA(t, dir)
	serverCert, serverKey := ca.Server(t, "app.localhost").Write(t, dir, "server")
	alice := ca.Client(t, "alice")
	aliceCert, aliceKey := alice.Write(t, dir, "alice")
	sock := filepath.Join(dir, "app.sock")

	s := startServer(t, "-unix", sock, "-trusted-proxies", "unix", "-client-ca", caFile,
		"-allowed-hosts", "app.localhost;127.0.0.1")

	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must reach the socket in a private directory
	}
	// The configuration examples/nginx documents, filled in as its run.sh
	// fills it in.
	tmpl, err := os.ReadFile("../examples/nginx/nginx.conf.template")
	require.NoError(t, err)
	conf := filepath.Join(dir, "nginx.conf")
	filled := strings.NewReplacer("@USER@", user, "@DIR@", dir, "@SOCKET@", sock, "@PORT@", strconv.Itoa(port),
		"@CERT@", serverCert, "@KEY@", serverKey, "@CLIENT_CA@", caFile).Replace(string(tmpl))
	require.NotRegexp(t, `@[A-Z_]+@`, filled, "every placeholder filled")
	require.NoError(t, os.WriteFile(conf, []byte(filled), 0o600))
	cmd := exec.Command(nginx, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	out := &testserver.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	nginxProc := testserver.StartProcess(t, cmd)
	// SIGTERM makes the master stop its workers, which hold the output pipe
	// too; StartProcess's WaitDelay bounds the wait for the pipe if they
	// linger, and its kill follows this cleanup.
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-nginxProc.Done():
		case <-time.After(10 * time.Second):
		}
	})
	front := fmt.Sprintf("127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", front)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "nginx did not start: %s", out)

	curl := func(host, path string, withCert bool) (string, string) {
		args := []string{"-H", "Host: " + host}
		if withCert {
			args = append(args, "--cert", aliceCert, "--key", aliceKey)
		}
		code, body, exit := curlHTTPS(t, caFile, "app.localhost", strconv.Itoa(port), path, args...)
		require.Zero(t, exit, "curl: %s", body)
		return code, body
	}

	code, body := curl("app.localhost", "/", false)
	assert.Equal(t, "200", code)
	assert.Equal(t, "hello\n", body)

	code, body = curl("app.localhost", "/whoami", true)
	assert.Equal(t, "200", code)
	assert.Contains(t, body, "subject: CN=alice,O=windhover tests")
	assert.Contains(t, body, "forwarded: true", "the identity came from nginx's header")

	code, _ = curl("app.localhost", "/whoami", false)
	assert.Equal(t, "403", code, "no certificate, no identity")

	code, body = curl("evil.example", "/", false)
	assert.Equal(t, "400", code, "host filtering judged the Host the client sent through nginx")
	assert.Equal(t, "invalid hostname\n", body)

	// The same header, straight to the server's TCP port: not trusted.
	req, err := http.NewRequest("GET", s.url()+"/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("X-Client-Cert", url.QueryEscape(string(alice.PEM())))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 403, res.StatusCode, "a forged X-Client-Cert from an untrusted peer is ignored")

	res, err = http.Get(s.url() + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(metrics), `windhover_certauth_forwarded_total{outcome="accepted",policy="certauth",policy_name="default"} 1`)
	assert.Contains(t, string(metrics), `windhover_certauth_forwarded_total{outcome="ignored",policy="certauth",policy_name="default"} 1`)
	assert.Contains(t, string(metrics), `windhover_rejections_total{policy="hostfilter",policy_name="default",reason="host_not_allowed"} 1`)
}
