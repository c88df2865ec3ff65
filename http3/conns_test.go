package http3_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/graceful"
	"github.com/windhover/windhover/http3"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// MaxConcurrentConnections holds for QUIC connections: the one over it is
// refused in its handshake, counted, reported, and a slot freed by a close
// is taken again.
func TestConnectionLimit(t *testing.T) {
	var mu sync.Mutex
	var refusals []windhover.Refusal
	cfg := windhover.Config{
		Limits: limits.Config{MaxConcurrentConnections: 2},
		OnReject: func(r *http.Request, err error) {
			if rf, ok := windhover.RefusalOf(err); ok && r == nil {
				mu.Lock()
				refusals = append(refusals, rf)
				mu.Unlock()
			}
		},
	}
	st := serve(t, cfg, http3.Config{}, nil)
	a, b := st.client(t), st.client(t)
	for _, c := range []*http.Client{a, b} {
		if code, _ := get(t, c, st.url("", "/")); code != http.StatusOK {
			t.Fatalf("%d", code)
		}
	}
	third := st.client(t)
	if _, err := third.Get(st.url("", "/")); err == nil {
		t.Fatal("a third connection was served over a limit of 2")
	} else {
		t.Logf("the third connection: %v", err)
	}
	if s := st.h3.Stats(); s.Refused != 1 || s.Open != 2 {
		// A ClientHello with a post-quantum key share takes two Initial
		// packets, each an attempt to quic-go: one refusal all the same.
		t.Errorf("Stats after the refusal: %+v, want Refused 1, Open 2", s)
	}
	mu.Lock()
	if len(refusals) != 1 || refusals[0].Policy != "limits" || refusals[0].Reason != "connection_limit" || !errors.Is(refusals[0].Err, limits.ErrConnectionLimit) {
		t.Errorf("OnReject saw %+v, want one limits/connection_limit refusal", refusals)
	}
	mu.Unlock()

	_ = a.Transport.(*qhttp3.Transport).Close()
	waitFor(t, "a slot to be freed", func() bool { return st.h3.Stats().Open == 1 })
	if code, _ := get(t, st.client(t), st.url("", "/")); code != http.StatusOK {
		t.Fatalf("after a close: %d", code)
	}
}

// MaxConcurrentConnections bounds TCP and QUIC connections together, as
// Kestrel's bounds those of every endpoint: with a limit of 2, a TCP
// connection and a QUIC one leave no slot for a second QUIC connection nor a
// second TCP one, and a slot either frees serves the other transport. So
// does MaxConnectionsPerClient.
func TestConnectionLimitSharedWithTCP(t *testing.T) {
	for name, cfg := range map[string]limits.Config{
		"MaxConcurrentConnections": {MaxConcurrentConnections: 2},
		"MaxConnectionsPerClient":  {MaxConnectionsPerClient: 2},
	} {
		t.Run(name, func(t *testing.T) {
			st := serve(t, windhover.Config{Limits: cfg}, http3.Config{}, nil)
			tcp := func() *http.Client {
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: st.ca.Pool()}, ForceAttemptHTTP2: true}
				t.Cleanup(tr.CloseIdleConnections)
				return &http.Client{Transport: tr, Timeout: 10 * time.Second}
			}
			tcpURL := "https://" + st.tcp + "/"
			first := tcp()
			res, err := first.Get(tcpURL)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
				t.Fatalf("TCP: %s %s", res.Proto, res.Status)
			}
			if code, _ := get(t, st.client(t), st.url("", "/")); code != http.StatusOK {
				t.Fatalf("QUIC: %d", code)
			}
			if _, err := st.client(t).Get(st.url("", "/")); err == nil {
				t.Error("a second QUIC connection was served, over a limit of 2 that a TCP connection shares")
			}
			if res, err := tcp().Get(tcpURL); err == nil {
				res.Body.Close()
				t.Error("a second TCP connection was served, over a limit of 2 that a QUIC connection shares")
			}
			if s := st.ws.Limiter().Stats(); s.ActiveConnections != 2 || s.Rejected[limits.ReasonConnectionLimit]+s.Rejected[limits.ReasonClientConnectionLimit] != 2 {
				t.Errorf("limits' Stats: %d connections, %v refusals; want 2 and 2", s.ActiveConnections, s.Rejected)
			}
			first.Transport.(*http.Transport).CloseIdleConnections()
			waitFor(t, "the TCP connection's slot to be freed", func() bool { return st.ws.Limiter().Stats().ActiveConnections == 1 })
			if code, _ := get(t, st.client(t), st.url("", "/")); code != http.StatusOK {
				t.Errorf("QUIC, in the slot a TCP connection freed: %d", code)
			}
		})
	}
}

// A connection has at most MaxIncomingStreams requests open at once; the
// others wait for QUIC's stream credit, and are served in their turn.
func TestMaxIncomingStreams(t *testing.T) {
	var in, most atomic.Int64
	release := make(chan struct{})
	st := serve(t, windhover.Config{}, http3.Config{MaxIncomingStreams: 2}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
			n := in.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			in.Add(-1)
		})
	})
	c := st.client(t)
	if code, _ := get(t, c, st.url("", "/")); code != http.StatusOK { // the connection, first
		t.Fatal(code)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if code, _ := get(t, c, st.url("", "/hold")); code != http.StatusOK {
				t.Errorf("%d", code)
			}
		})
	}
	waitFor(t, "two requests in the handler", func() bool { return in.Load() == 2 })
	time.Sleep(200 * time.Millisecond) // a third would have arrived by now
	if n := in.Load(); n != 2 {
		t.Errorf("%d requests in the handler at once, want 2", n)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d requests at once, want 2", m)
	}
	if s := st.h3.Stats(); s.Accepted != 1 {
		t.Errorf("%d connections, want the one", s.Accepted)
	}
}

// initial returns a QUIC v1 Initial packet from a client that will never
// answer: a new connection ID, 1200 bytes, a payload that decrypts to
// nothing. It is what a flood from spoofed addresses sends.
func initial(t *testing.T) []byte {
	p := make([]byte, 1200)
	p[0] = 0xc3 // long header, Initial, a 4-byte packet number
	p[4] = 1    // version 1
	p[5] = 8    // destination connection ID
	if _, err := rand.Read(p[6:14]); err != nil {
		t.Fatal(err)
	}
	p[14] = 8 // source connection ID
	if _, err := rand.Read(p[15:23]); err != nil {
		t.Fatal(err)
	}
	p[23] = 0 // no token
	rest := len(p) - 26
	p[24], p[25] = 0x40|byte(rest>>8), byte(rest)
	return p
}

// Under a flood of handshakes that never complete, the server holds state
// for RetryAbove of them and sends every other client a Retry, which costs
// it nothing; an honest client proves its address and is served.
func TestRetryUnderHandshakeFlood(t *testing.T) {
	const above, flood = 5, 60
	st := serve(t, windhover.Config{}, http3.Config{RetryAbove: above, HandshakeIdleTimeout: 3 * time.Second}, nil)
	attacker, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	server, err := net.ResolveUDPAddr("udp", st.udp)
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := attacker.ReadFrom(buf)
			if err != nil {
				return
			}
			if n > 0 && buf[0]&0xf0 == 0xf0 { // long header, type Retry
				retries.Add(1)
			}
		}
	}()
	for range flood {
		if _, err := attacker.WriteTo(initial(t), server); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every Initial to be answered or held", func() bool {
		s := st.h3.Stats()
		return s.Accepted+s.Retries >= flood
	})
	s := st.h3.Stats()
	t.Logf("after %d Initial packets: %+v, %d Retry packets received", flood, s, retries.Load())
	if s.Handshaking > above || s.Accepted > above {
		t.Errorf("%d handshakes held (%d accepted), want at most %d", s.Handshaking, s.Accepted, above)
	}
	if s.Retries < flood-above {
		t.Errorf("%d Retry packets asked for, want at least %d", s.Retries, flood-above)
	}
	// quic-go queues 8 Retry packets to send and drops what a burst brings
	// beyond: a client whose Retry was dropped sends its Initial again.
	waitFor(t, "Retry packets to arrive", func() bool { return retries.Load() > 0 })

	// An honest client is sent a Retry too, and passes it.
	if code, _ := get(t, st.client(t), st.url("", "/")); code != http.StatusOK {
		t.Fatalf("an honest client during the flood: %d", code)
	}
	// The flood's handshakes time out, and their state goes.
	waitFor(t, "the flood's handshakes to time out", func() bool { return st.h3.Stats().Handshaking == 0 })
	if s := st.h3.Stats(); s.HandshakesFailed < above {
		t.Errorf("%d failed handshakes, want the flood's %d", s.HandshakesFailed, above)
	}
}

// TLS responses over TCP advertise the HTTP/3 endpoint; plaintext ones do
// not.
func TestAltSvc(t *testing.T) {
	st := serve(t, windhover.Config{}, http3.Config{}, nil)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: st.ca.Pool()}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	res, err := c.Get("https://" + st.tcp + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	_, port, _ := net.SplitHostPort(st.udp)
	if want := `h3=":` + port + `"; ma=86400`; res.Header.Get("Alt-Svc") != want {
		t.Errorf("Alt-Svc over %s: %q, want %q", res.Proto, res.Header.Get("Alt-Svc"), want)
	}
	c3 := st.client(t)
	_, _, hdr := do(t, c3, newRequest(t, http.MethodGet, st.url("", "/"), nil))
	if v := hdr.Get("Alt-Svc"); v != "" {
		t.Errorf("Alt-Svc over HTTP/3: %q", v)
	}
}

// Kestrel's KeepAliveTimeout closes an idle QUIC connection as it closes
// an idle TCP one: it is both QUIC's idle timeout and HTTP/3's.
func TestKeepAliveTimeout(t *testing.T) {
	cfg := windhover.Config{Timeouts: timeouts.Config{KeepAliveTimeout: 400 * time.Millisecond}}
	st := serve(t, cfg, http3.Config{}, nil)
	if code, _ := get(t, st.client(t), st.url("", "/")); code != http.StatusOK {
		t.Fatal(code)
	}
	if s := st.h3.Stats(); s.Open != 1 {
		t.Fatalf("%d connections open after a request, want 1", s.Open)
	}
	start := time.Now()
	waitFor(t, "the idle connection to close", func() bool { return st.h3.Stats().Open == 0 })
	t.Logf("closed after %v idle", time.Since(start).Round(time.Millisecond))
}

// A UDP socket that cannot serve stops the server's lifecycle, as a TCP
// listener that fails does: Run returns an error matching graceful.ErrServe.
func TestSocketFailureStopsTheGroup(t *testing.T) {
	ca := testcert.NewCA(t, "CA")
	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS()}}}
	ws, err := windhover.Harden(srv, windhover.Config{Shutdown: graceful.Config{DisableSignals: true}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := http3.New(ws, pc, http3.Config{}); err != nil {
		t.Fatal(err)
	}
	pc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ws.Run(context.Background(), ln) }()
	select {
	case err := <-done:
		if !errors.Is(err, graceful.ErrServe) {
			t.Fatalf("Run: %v, want ErrServe", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(20 * time.Second):
		_ = ws.Group().Shutdown(context.Background())
		t.Fatal("Run went on serving with a closed UDP socket")
	}
}

func TestNewRefuses(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	plain, err := windhover.Harden(&http.Server{}, windhover.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := http3.New(plain, pc, http3.Config{}); err == nil {
		t.Error("New took a server without a certificate")
	}
	for _, cfg := range []http3.Config{{MaxIncomingStreams: -1}, {MaxIncomingUniStreams: -1}, {HandshakeIdleTimeout: -1}, {Port: 70000}} {
		if _, err := http3.New(plain, pc, cfg); err == nil {
			t.Errorf("New took %+v", cfg)
		}
	}
	if _, err := http3.New(plain, nil, http3.Config{}); err == nil {
		t.Error("New took a nil PacketConn")
	}
}

// Kestrel's RequestHeadersTimeout bounds the wait for a request's HEADERS
// frame on each stream: a stream opened and left silent is reset.
func TestRequestHeadersTimeout(t *testing.T) {
	cfg := windhover.Config{Timeouts: timeouts.Config{RequestHeadersTimeout: 300 * time.Millisecond}}
	st := serve(t, cfg, http3.Config{}, nil)
	qc, err := quic.DialAddr(context.Background(), st.udp, &tls.Config{RootCAs: st.ca.Pool(), NextProtos: []string{qhttp3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	str, err := qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte{0x01}); err != nil { // the start of a HEADERS frame, no more
		t.Fatal(err)
	}
	start := time.Now()
	_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(str)
	took := time.Since(start)
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	var se *quic.StreamError
	if !errors.As(err, &se) || took > 5*time.Second {
		t.Errorf("a silent stream: %v after %v, want it reset after the timeout", err, took)
	}
}
