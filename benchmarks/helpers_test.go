package benchmarks

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/windhover/windhover/internal/testserver"
)

// app is the handler behind every arm of every benchmark: a ServeMux route,
// so that the request has a pattern for the metrics to report, which reads
// the body to the end and answers a constant.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// request is a request as net/http hands it to a handler, reused across
// iterations.
type request struct {
	r    *http.Request
	body *body
}

// load is what the arms of a benchmark are measured with.
type load struct {
	body     int    // bytes in the request body; 0 for a GET without one
	host     string // the Host field; "" for example.com
	parallel bool   // also measure on every core at once
	// fresh serves 256 requests in turn, each its own object, as a server's
	// requests are, rather than one request again and again: what a policy
	// keys by the request's address (a cell of a counter, say) then changes
	// from one request to the next.
	fresh bool
}

// newRequest parses a request for /items/42 with the fields a browser or an
// API client sends, the host and a body of l.body bytes.
func newRequest(tb testing.TB, l load) *request {
	n, host := l.body, l.host
	if host == "" {
		host = "example.com"
	}
	method, extra := "GET", ""
	if n > 0 {
		method, extra = "POST", "Content-Type: application/octet-stream\r\nContent-Length: "+strconv.Itoa(n)+"\r\n"
	}
	raw := method + " /items/42?x=1 HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Accept-Language: en\r\nCookie: session=abcdef0123456789\r\n" + extra + "\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	r.RemoteAddr = "192.0.2.1:40000"
	q := &request{r: r}
	if n == 0 {
		r.Body = http.NoBody
		return q
	}
	q.body = &body{data: bytes.Repeat([]byte("b"), n)}
	r.Body = q.body
	return q
}

// reset puts the request back as it was: a middleware may have replaced its
// Body (chi's RequestSize does, on the request itself) and read it.
func (q *request) reset() {
	if q.body != nil {
		q.body.off = 0
		q.r.Body = q.body
	}
}

// body is a request body that can be read again. Like net/http's own it
// offers only Read and Close, so that io.Copy reads it through a buffer
// (io.Discard's, 8 KiB) in every arm, wrapped or not.
type body struct {
	data []byte
	off  int
}

func (b *body) Read(p []byte) (int, error) {
	if b.off == len(b.data) {
		return 0, io.EOF
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

func (*body) Close() error { return nil }

// arm is one contender: the same app behind a middleware, or bare.
type arm struct {
	name string
	h    http.Handler
}

// serveArms measures each arm serving l's request through a reusable writer
// that discards the response, in one goroutine ("serial") and, with
// l.parallel, on every core, each goroutine with its own request and writer.
// Every arm must answer 200 first.
func serveArms(b *testing.B, l load, arms []arm) {
	for _, a := range arms {
		q := newRequest(b, l)
		rec := &statusWriter{NopWriter: testserver.NewNopWriter()}
		a.h.ServeHTTP(rec, q.r)
		if rec.status != 0 && rec.status != http.StatusOK {
			b.Fatalf("%s answered %d", a.name, rec.status)
		}
	}
	modes := []string{"serial"}
	if l.parallel {
		modes = append(modes, "parallel")
	}
	for _, mode := range modes {
		for _, a := range arms {
			b.Run(mode+"/"+a.name, func(b *testing.B) {
				b.ReportAllocs()
				if l.body > 0 {
					b.SetBytes(int64(l.body))
				}
				if mode == "serial" {
					serveLoop(b.Loop, a.h, newRequests(b, l))
					return
				}
				// Each goroutine's requests, made before the timer starts.
				sets := make([][]*request, runtime.GOMAXPROCS(0))
				for i := range sets {
					sets[i] = newRequests(b, l)
				}
				var next atomic.Int32
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					serveLoop(pb.Next, a.h, sets[next.Add(1)-1])
				})
			})
		}
	}
}

// newRequests returns l's requests: one, or 256 with l.fresh.
func newRequests(tb testing.TB, l load) []*request {
	n := 1
	if l.fresh {
		n = 256
	}
	qs := make([]*request, n)
	for i := range qs {
		qs[i] = newRequest(tb, l)
	}
	return qs
}

func serveLoop(next func() bool, h http.Handler, qs []*request) {
	w := testserver.NewNopWriter()
	for i := 0; next(); i++ {
		q := qs[i%len(qs)]
		q.reset()
		h.ServeHTTP(w, q.r)
		clear(w.H)
	}
}

// statusWriter records the status a handler wrote, for the check before the
// clock starts.
type statusWriter struct {
	*testserver.NopWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

func (w *statusWriter) WriteString(s string) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(s), nil
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	return io.Copy(io.Discard, r)
}
