package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover/internal/testcert"
)

// The example serves its routes over HTTP/3 and TCP, under its flags'
// limits, and drains when its context ends. Debian's curl speaks no
// HTTP/3, so quic-go's client stands in for it.
func TestServerOverHTTP3(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "example CA")
	certFile, keyFile := ca.Server(t).Write(t, dir, "server")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile, "-max-body", "1000"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("the server printed no address: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	fields := strings.Fields(line)
	tcpURL, h3URL := fields[len(fields)-2], "https://"+strings.TrimPrefix(fields[len(fields)-1], "h3://")

	tr := &qhttp3.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	defer tr.Close()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	check := func(method, path string, body io.Reader, wantCode int, wantBody string) {
		t.Helper()
		req, _ := http.NewRequest(method, h3URL+path, body)
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.ProtoMajor != 3 || res.StatusCode != wantCode || !strings.Contains(string(b), wantBody) {
			t.Errorf("%s %s: %s %d %.60q, want HTTP/3 %d with %q", method, path, res.Proto, res.StatusCode, b, wantCode, wantBody)
		}
	}
	check("GET", "/", nil, 200, "hello over HTTP/3.0")
	check("POST", "/upload", bytes.NewReader(make([]byte, 1000)), 200, "1000")
	check("POST", "/upload", bytes.NewReader(make([]byte, 1001)), 413, "")
	check("GET", "/whoami", nil, 403, "")
	check("GET", "/readyz", nil, 200, "serving")
	check("GET", "/metrics", nil, 200, `network_transport="udp"`)

	tcp := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	res, err := tcp.Get(tcpURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Alt-Svc"), `h3=":`) {
		t.Errorf("Alt-Svc over TCP: %q", res.Header.Get("Alt-Svc"))
	}
	tcp.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the server did not stop")
	}
}
