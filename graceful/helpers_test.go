package graceful

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/internal/testserver"
)

var (
	eventually   = testserver.Eventually
	checkNoLeaks = testserver.CheckNoLeaks
)

// The ways a test server is reached.
type transport string

const (
	overH1    transport = "h1"    // HTTP/1.1 over TCP
	overH1TLS transport = "h1tls" // HTTP/1.1 over TLS, a listener from tls.NewListener
	overH2    transport = "h2"    // HTTP/2 over TLS, AddTLS
	overH2C   transport = "h2c"   // HTTP/2 with prior knowledge, Protocols
	overUnix  transport = "unix"  // HTTP/1.1 over a Unix socket
)

func (tr transport) isHTTP2() bool { return tr == overH2 || tr == overH2C }

// serverTLS returns the endpoint's server configuration offering protos.
func (ep *endpoint) serverTLS(protos ...string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ep.cert}, NextProtos: protos}
}

// clientTLS returns a client configuration trusting the endpoint's CA.
func (ep *endpoint) clientTLS(protos ...string) *tls.Config {
	return &tls.Config{RootCAs: ep.ca.Pool(), ServerName: "127.0.0.1", NextProtos: protos}
}

// newServer returns a server for h that logs nothing.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
}

// endpoint is a server added to a group and how to reach it.
type endpoint struct {
	tr     transport
	srv    *http.Server
	ln     net.Listener // the plain listener, before any TLS
	path   string       // the socket file, over Unix
	client *http.Client
	url    string
	ca     *testcert.CA    // over h1tls and h2: the CA of cert
	cert   tls.Certificate // over h1tls and h2: the server's certificate
}

// addServer adds a server for h to g, reached over tr, after running setup
// on it.
func addServer(t testing.TB, g *Group, tr transport, h http.Handler, setup ...func(*http.Server)) *endpoint {
	t.Helper()
	ep := &endpoint{tr: tr, srv: newServer(h)}
	for _, f := range setup {
		f(ep.srv)
	}
	network, addr := "tcp", "127.0.0.1:0"
	if tr == overUnix {
		ep.path = filepath.Join(t.TempDir(), "s.sock")
		network, addr = "unix", ep.path
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	ep.ln = ln
	if tr == overH1TLS || tr == overH2 {
		ep.ca = testcert.NewCA(t, "windhover graceful test CA")
		ep.cert = ep.ca.Server(t).TLS()
	}
	ctr := &http.Transport{Protocols: new(http.Protocols), DisableCompression: true}
	ep.url = "http://" + ln.Addr().String()
	switch tr {
	case overH1, overUnix:
		ctr.Protocols.SetHTTP1(true)
		g.Add(ep.srv, ln)
	case overH1TLS:
		ctr.Protocols.SetHTTP1(true)
		ctr.TLSClientConfig = ep.clientTLS()
		ep.url = "https://" + ln.Addr().String()
		g.Add(ep.srv, tls.NewListener(ln, ep.serverTLS("http/1.1")))
	case overH2:
		ctr.Protocols.SetHTTP2(true)
		ctr.TLSClientConfig = ep.clientTLS()
		ep.url = "https://" + ln.Addr().String()
		ep.srv.TLSConfig = ep.serverTLS()
		g.AddTLS(ep.srv, ln, "", "")
	case overH2C:
		ep.srv.Protocols = new(http.Protocols)
		ep.srv.Protocols.SetHTTP1(true)
		ep.srv.Protocols.SetUnencryptedHTTP2(true)
		ctr.Protocols.SetUnencryptedHTTP2(true)
		g.Add(ep.srv, ln)
	default:
		t.Fatalf("unknown transport %q", tr)
	}
	if tr == overUnix {
		ep.url = "http://unix"
		ctr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", ep.path)
		}
	}
	ep.client = &http.Client{Transport: ctr}
	t.Cleanup(ctr.CloseIdleConnections)
	return ep
}

// get sends a GET for target and returns the status and body, or an error.
func (ep *endpoint) get(target string) (int, string, error) {
	res, err := ep.client.Get(ep.url + target)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err
	}
	if (res.ProtoMajor == 2) != ep.tr.isHTTP2() {
		return 0, "", errors.New("answered over " + res.Proto)
	}
	return res.StatusCode, string(body), nil
}

// network returns the network and address to dial the endpoint.
func (ep *endpoint) network() (string, string) {
	if ep.tr == overUnix {
		return "unix", ep.path
	}
	return "tcp", ep.ln.Addr().String()
}

// dialRaw opens a new plaintext (or, over h1tls and h2, TLS) connection to
// the endpoint, closed when the test ends, with a ten-second deadline.
func (ep *endpoint) dialRaw(t testing.TB) *testserver.Conn {
	t.Helper()
	network, addr := ep.network()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	switch ep.tr {
	case overH1TLS:
		c = tls.Client(c, ep.clientTLS("http/1.1"))
	case overH2:
		c = tls.Client(c, ep.clientTLS("h2"))
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &testserver.Conn{Conn: c, R: bufio.NewReader(c)}
}

// refused reports whether a new connection to the endpoint fails: refused
// over TCP, the socket file gone over Unix.
func (ep *endpoint) refused() bool {
	network, addr := ep.network()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist)
	}
	c.Close()
	return false
}

// run is a Group running in the background.
type run struct {
	g      *Group
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start runs g until the test ends, and waits until it serves.
func start(t testing.TB, g *Group) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{g: g, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = g.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		_ = g.Shutdown(context.Background())
		<-r.done
	})
	eventually(t, func() bool {
		select {
		case <-r.done:
			return true
		default:
		}
		return g.Stats().State != StateNew
	}, "the group did not start serving")
	return r
}

// wait waits up to ten seconds for Run to return, and returns its error.
func (r *run) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// expect waits for Run to return and checks that its error matches want
// (nil: that there is none).
func (r *run) expect(t testing.TB, want error) {
	t.Helper()
	err := r.wait(t)
	if !errors.Is(err, want) {
		t.Errorf("Run: %v, want %v", err, want)
	}
}

// returned reports whether Run has returned.
func (r *run) returned() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitState waits until the group has reached state s.
func waitState(t testing.TB, g *Group, s State) {
	t.Helper()
	eventually(t, func() bool { return g.Stats().State >= s }, "the group did not reach %v (at %v)", s, g.Stats().State)
}

// fakeSignals stands for the operating system's signal delivery.
type fakeSignals struct {
	mu       sync.Mutex
	ch       chan<- os.Signal
	sigs     []os.Signal
	stopped  bool
	notified chan struct{}
}

// injectSignals makes g take its signals from the returned fakeSignals.
func injectSignals(g *Group) *fakeSignals {
	f := &fakeSignals{notified: make(chan struct{})}
	g.notify = func(c chan<- os.Signal, sigs ...os.Signal) {
		f.mu.Lock()
		f.ch, f.sigs = c, sigs
		f.mu.Unlock()
		close(f.notified)
	}
	g.stopNotify = func(c chan<- os.Signal) {
		f.mu.Lock()
		f.stopped = f.ch == c
		f.mu.Unlock()
	}
	return f
}

// send delivers sig as the operating system would, if g asked for it.
func (f *fakeSignals) send(t testing.TB, sig os.Signal) {
	t.Helper()
	<-f.notified
	f.mu.Lock()
	ch, sigs := f.ch, f.sigs
	f.mu.Unlock()
	for _, s := range sigs {
		if s == sig {
			select {
			case ch <- sig:
			case <-time.After(5 * time.Second):
				t.Fatal("the group does not take signals")
			}
			return
		}
	}
	t.Fatalf("the group does not handle %v", sig)
}

// gate holds handlers until it is opened, and counts those that entered.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 64), open: make(chan struct{})}
}

// release lets every held handler go on.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// wait waits until n handlers have entered.
func (g *gate) wait(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("no handler entered")
		}
	}
}

// handler enters the gate, waits for it to open and writes "done: " and the
// path.
func (g *gate) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.entered <- struct{}{}
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "done: "+r.URL.Path)
	})
}

// mux serves the gate on /slow, "fast" on /fast, readiness on /ready, and
// on /hijack hijacks the connection and echoes lines until the client or
// the group closes it (/hijack?bye also says "bye" and closes it when the
// stop begins).
func mux(g *Group, gt *gate) http.Handler {
	m := http.NewServeMux()
	m.Handle("/slow", gt.handler())
	m.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fast") })
	m.Handle("/ready", g.ReadyHandler())
	m.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		echo(g, c, brw, r.URL.RawQuery == "bye")
	})
	return g.Handler(m)
}

// echo writes the 101 response, then echoes lines on c until it fails; with
// bye, it says "bye" and closes c when the group begins to stop.
func echo(g *Group, c net.Conn, brw *bufio.ReadWriter, bye bool) {
	defer c.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	_ = brw.Flush()
	if bye {
		go func() {
			<-g.Stopping()
			_, _ = c.Write([]byte("bye\n"))
			c.Close()
		}()
	}
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := brw.WriteString(line); err != nil {
			return
		}
		if brw.Flush() != nil {
			return
		}
	}
}

// upgrade opens a connection, asks for /hijack (with query q) and reads the
// 101; the connection then echoes.
func (ep *endpoint) upgrade(t testing.TB, query string) *testserver.Conn {
	t.Helper()
	c := ep.dialRaw(t)
	if query != "" {
		query = "?" + query
	}
	c.Send(t, "GET /hijack"+query+" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	res, err := http.ReadResponse(c.R, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", res.Status)
	}
	return c
}

// echoes reports whether the hijacked connection still echoes a line.
func echoes(c *testserver.Conn) bool {
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return false
	}
	line, err := c.R.ReadString('\n')
	return err == nil && line == "ping\n"
}

// h2Conn speaks just enough HTTP/2 to send GET requests and watch the frames
// that come back, GOAWAY included, which no HTTP/2 client reports.
type h2Conn struct{ *testserver.Conn }

// HTTP/2 frame types and flags used here.
const (
	h2Data       = 0x0
	h2Headers    = 0x1
	h2Settings   = 0x4
	h2GoAway     = 0x7
	h2EndStream  = 0x1
	h2Ack        = 0x1
	h2EndHeaders = 0x4
)

type h2Frame struct {
	typ, flags uint8
	stream     uint32
	payload    []byte
}

// dialH2 opens an HTTP/2 connection to the endpoint (h2 or h2c) and sends
// the preface and empty SETTINGS.
func (ep *endpoint) dialH2(t testing.TB) *h2Conn {
	t.Helper()
	h := &h2Conn{ep.dialRaw(t)}
	h.Send(t, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	h.write(t, h2Settings, 0, 0, nil)
	return h
}

func (h *h2Conn) write(t testing.TB, typ, flags uint8, stream uint32, payload []byte) {
	t.Helper()
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	if _, err := h.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

// get opens stream with a GET for path, every field a literal without
// indexing (RFC 7541, section 6.2.2) so that no HPACK state is needed.
func (h *h2Conn) get(t testing.TB, stream uint32, path string) {
	t.Helper()
	var block []byte
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}} {
		block = append(block, 0, byte(len(f[0])))
		block = append(block, f[0]...)
		block = append(block, byte(len(f[1])))
		block = append(block, f[1]...)
	}
	h.write(t, h2Headers, h2EndHeaders|h2EndStream, stream, block)
}

// read returns the next frame, having acknowledged any SETTINGS.
func (h *h2Conn) read(t testing.TB) (h2Frame, error) {
	t.Helper()
	for {
		var hdr [9]byte
		if _, err := io.ReadFull(h.R, hdr[:]); err != nil {
			return h2Frame{}, err
		}
		f := h2Frame{
			typ:     hdr[3],
			flags:   hdr[4],
			stream:  binary.BigEndian.Uint32(hdr[5:]) &^ (1 << 31),
			payload: make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2])),
		}
		if _, err := io.ReadFull(h.R, f.payload); err != nil {
			return h2Frame{}, err
		}
		if f.typ == h2Settings && f.flags&h2Ack == 0 {
			h.write(t, h2Settings, h2Ack, 0, nil)
			continue
		}
		return f, nil
	}
}

// goAwayAndBody reads frames until stream ends, and returns the GOAWAY
// frames seen on the way and the stream's body.
func (h *h2Conn) goAwayAndBody(t testing.TB, stream uint32) (goAways []h2Frame, body string) {
	t.Helper()
	var b strings.Builder
	for {
		f, err := h.read(t)
		if err != nil {
			t.Fatalf("reading stream %d (body so far %q): %v", stream, b.String(), err)
		}
		switch {
		case f.typ == h2GoAway:
			goAways = append(goAways, f)
		case f.stream == stream && f.typ == h2Data:
			b.Write(f.payload)
		}
		if f.stream == stream && (f.typ == h2Data || f.typ == h2Headers) && f.flags&h2EndStream != 0 {
			return goAways, b.String()
		}
	}
}

// mustNew returns a group for cfg, failing the test on a config error.
func mustNew(t testing.TB, cfg Config) *Group {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// result is the outcome of a request sent in the background.
type result struct {
	code int
	body string
	err  error
}

// getAsync sends a GET for target in the background.
func (ep *endpoint) getAsync(target string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		code, body, err := ep.get(target)
		ch <- result{code, body, err}
	}()
	return ch
}

// await returns the result, failing the test after ten seconds.
func await(t testing.TB, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end")
		return result{}
	}
}

// fixture is a running group with one server on mux, and the gate of its
// /slow handler, opened when the test ends.
type fixture struct {
	g  *Group
	gt *gate
	ep *endpoint
	r  *run
}

// startOne checks for leaks, then runs a group for cfg with one server
// reached over tr, after calling prepare on the group.
func startOne(t testing.TB, cfg Config, tr transport, prepare ...func(*Group)) *fixture {
	t.Helper()
	checkNoLeaks(t)
	f := &fixture{g: mustNew(t, cfg), gt: newGate()}
	for _, p := range prepare {
		p(f.g)
	}
	f.ep = addServer(t, f.g, tr, mux(f.g, f.gt))
	f.r = start(t, f.g)
	t.Cleanup(f.gt.release)
	return f
}

// holdRequest sends a request to /slow and waits until its handler holds it.
func (f *fixture) holdRequest(t testing.TB) <-chan result {
	t.Helper()
	res := f.ep.getAsync("/slow")
	f.gt.wait(t, 1)
	return res
}
