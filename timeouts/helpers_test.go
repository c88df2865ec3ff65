package timeouts

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

const (
	h1  = testserver.H1
	h2  = testserver.H2
	h2c = testserver.H2C
)

// serve starts h behind pol (its Handler, Apply and Listener), speaking p,
// with the server's socket send buffers kept small so that a client that
// stops reading is felt after kilobytes rather than megabytes.
func serve(t testing.TB, pol *Policy, h http.Handler, p testserver.Proto) *testserver.Server {
	t.Helper()
	return testserver.Start(t, pol.Handler(h), p, func(ts *httptest.Server) {
		require.NoError(t, pol.Apply(ts.Config))
		ts.Listener = pol.Listener(smallBuffers{ts.Listener})
	})
}

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// testRate is fast enough to keep the tests short and slow enough for a
// loaded machine to keep up with twice it.
var testRate = Rate{BytesPerSecond: 20_000, GracePeriod: 300 * time.Millisecond}

// trickle is a request body that sends chunk bytes every interval, total bytes
// in all, and records when it was cut off.
type trickle struct {
	chunk, total int
	interval     time.Duration
	sent         int
	start        time.Time
}

func (tr *trickle) Read(p []byte) (int, error) {
	if tr.sent >= tr.total {
		return 0, io.EOF
	}
	if tr.start.IsZero() {
		tr.start = time.Now()
	} else {
		time.Sleep(tr.interval)
	}
	n := min(tr.chunk, tr.total-tr.sent, len(p))
	clear(p[:n])
	tr.sent += n
	return n, nil
}

// sendTrickle sends a POST whose body trickles, over a raw connection for
// HTTP/1.1 (so that the test sees exactly what the server answers, and when)
// or with the Go client for HTTP/2. It returns the status.
func sendTrickle(t *testing.T, s *testserver.Server, tr *trickle) int {
	t.Helper()
	return sendBody(t, s, tr, tr.total, tr.chunk)
}

// sendBody sends a POST with body, announced as total bytes long, as
// sendTrickle does; over HTTP/1.1 it writes what each Read of at most chunk
// bytes returns at once. It returns the status. If body is an io.Closer, it
// is closed once the response is in: over HTTP/2 the Go client closes it
// itself when the stream ends.
func sendBody(t *testing.T, s *testserver.Server, body io.Reader, total, chunk int) int {
	t.Helper()
	if s.Proto.IsHTTP2() {
		req, err := http.NewRequest("POST", s.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(total)
		code, _ := s.Do(t, req)
		return code
	}
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+itoa(total)+"\r\n\r\n")
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, chunk)
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	res, _ := c.Response(t)
	c.Close()
	if bc, ok := body.(io.Closer); ok {
		bc.Close()
	}
	wg.Wait()
	return res.StatusCode
}

// step is a part of a paced body: n bytes, sent after a pause.
type step struct {
	pause time.Duration
	n     int
}

// every is count steps of n bytes, one each interval.
func every(interval time.Duration, n, count int) []step {
	s := make([]step, count)
	for i := range s {
		s[i] = step{interval, n}
	}
	return s
}

// paced is a request body sent in steps, one step a Read; if it stalls, it
// then sends nothing more until it is closed, as a client that stops sending
// but keeps its connection.
type paced struct {
	steps  []step
	stalls bool
	once   sync.Once
	closed chan struct{}
}

func newPaced(stalls bool, steps ...[]step) *paced {
	b := &paced{stalls: stalls, closed: make(chan struct{})}
	for _, s := range steps {
		b.steps = append(b.steps, s...)
	}
	return b
}

// total is the number of bytes the steps send.
func (b *paced) total() int {
	n := 0
	for _, s := range b.steps {
		n += s.n
	}
	return n
}

func (b *paced) Read(p []byte) (int, error) {
	if len(b.steps) == 0 {
		if b.stalls {
			<-b.closed
		}
		return 0, io.EOF
	}
	s := &b.steps[0]
	if s.pause > 0 {
		select {
		case <-time.After(s.pause):
			s.pause = 0
		case <-b.closed:
			return 0, io.ErrClosedPipe
		}
	}
	n := min(s.n, len(p))
	clear(p[:n])
	if s.n -= n; s.n == 0 {
		b.steps = b.steps[1:]
	}
	return n, nil
}

func (b *paced) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// readAll is a handler that reads the whole body, records the error and the
// time it took, and answers the byte count (or nothing on error).
type readAll struct {
	mu      sync.Mutex
	err     error
	elapsed time.Duration
	done    chan struct{}
}

func newReadAll() *readAll { return &readAll{done: make(chan struct{}, 16)} }

func (h *readAll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	n, err := io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.err, h.elapsed = err, time.Since(start)
	h.mu.Unlock()
	defer func() { h.done <- struct{}{} }()
	if err != nil {
		return
	}
	_, _ = io.WriteString(w, itoa(int(n)))
}

func (h *readAll) result(t *testing.T) (time.Duration, error) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not finish")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.elapsed, h.err
}

// violations records what OnReject reports.
type violations struct {
	mu   sync.Mutex
	errs []error
}

func (v *violations) record(_ *http.Request, err error) {
	v.mu.Lock()
	v.errs = append(v.errs, err)
	v.mu.Unlock()
}

func (v *violations) all() []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]error(nil), v.errs...)
}
