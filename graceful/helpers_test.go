package graceful

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
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

// h2Client speaks HTTP/2 frame by frame, with x/net/http2's Framer, to
// watch the GOAWAY frames that no HTTP/2 client reports.
type h2Client struct {
	*testserver.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

// dialH2 opens an HTTP/2 connection to the endpoint (h2 or h2c) and sends
// the preface and empty SETTINGS.
func (ep *endpoint) dialH2(t testing.TB) *h2Client {
	t.Helper()
	h := &h2Client{Conn: ep.dialRaw(t)}
	h.fr = http2.NewFramer(h.Conn, h.R)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.buf)
	h.Send(t, http2.ClientPreface)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// get opens stream with a GET for path.
func (h *h2Client) get(t testing.TB, stream uint32, path string) {
	t.Helper()
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: h.buf.Bytes(), EndStream: true, EndHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
}

// read returns the next frame, having acknowledged any SETTINGS. The frame
// is valid until the next read.
func (h *h2Client) read(t testing.TB) (http2.Frame, error) {
	t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := h.fr.WriteSettingsAck(); err != nil {
				return nil, err
			}
			continue
		}
		return f, nil
	}
}

// h2Response is what came back on a stream.
type h2Response struct {
	status  string
	body    string
	goAways []http2.GoAwayFrame // every GOAWAY read before the stream ended
}

// response reads frames until stream ends, and returns its status and body
// and the GOAWAY frames seen on the way.
func (h *h2Client) response(t testing.TB, stream uint32) h2Response {
	t.Helper()
	var res h2Response
	var body strings.Builder
	for {
		f, err := h.read(t)
		if err != nil {
			t.Fatalf("reading stream %d (so far %+v, body %q): %v", stream, res, body.String(), err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			res.goAways = append(res.goAways, http2.GoAwayFrame{LastStreamID: f.LastStreamID, ErrCode: f.ErrCode})
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				t.Fatalf("stream %d reset: %v", stream, f.ErrCode)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				res.status = f.PseudoValue("status")
			}
		case *http2.DataFrame:
			if f.StreamID == stream {
				body.Write(f.Data())
			}
		}
		if f.Header().StreamID == stream && f.Header().Flags.Has(http2.FlagDataEndStream) {
			res.body = body.String()
			return res
		}
	}
}

// goAway reads frames until a GOAWAY, failing the test if stream ends or
// the connection does first.
func (h *h2Client) goAway(t testing.TB, stream uint32) http2.GoAwayFrame {
	t.Helper()
	for {
		f, err := h.read(t)
		if err != nil {
			t.Fatalf("waiting for GOAWAY: %v", err)
		}
		if f.Header().StreamID == stream && (f.Header().Type == http2.FrameHeaders || f.Header().Type == http2.FrameData) {
			t.Fatalf("stream %d answered before GOAWAY: %v", stream, f.Header())
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			return http2.GoAwayFrame{LastStreamID: g.LastStreamID, ErrCode: g.ErrCode}
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
