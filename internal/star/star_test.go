package star_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/testserver"
)

// policy is a windhover-like handler: it counts what passes and answers
// "OPTIONS *" itself when it is the last.
type policy struct {
	next  http.Handler
	seen  int
	guard star.Guard
}

func (p *policy) HandlesOptionsStar() {}

func (p *policy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.guard.Check(r, "test")
	p.seen++
	if star.Is(r) && star.Last(p.next) {
		star.Answer(w, r)
		return
	}
	p.next.ServeHTTP(w, r)
}

func TestAnswerLikeNetHTTP(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
	})
	inner := &policy{next: app}
	outer := &policy{next: inner}
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			disable := func(ts *httptest.Server) { ts.Config.DisableGeneralOptionsHandler = true }
			s := testserver.Start(t, outer, p, disable)
			if p == testserver.H1 {
				c := testserver.Dial(t, s.Addr())
				c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
				res, body := c.Response(t)
				if res.StatusCode != 200 || body != "" || res.ContentLength != 0 || res.Close {
					t.Fatalf("got %d %q, length %d, close %v; want net/http's 200, empty, kept open", res.StatusCode, body, res.ContentLength, res.Close)
				}
				// A body up to 4 KiB is read and the connection kept.
				c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n"+strings.Repeat("a", 4096))
				if res, _ := c.Response(t); res.StatusCode != 200 || res.Close {
					t.Fatalf("4 KiB body: got %d, close %v", res.StatusCode, res.Close)
				}
				// Over that, the connection closes, as with net/http.
				c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"+strings.Repeat("a", 5000))
				if res, _ := c.Response(t); res.StatusCode != 200 {
					t.Fatalf("5000-byte body: got %d", res.StatusCode)
				}
				if !c.ClosedByPeer(t) {
					t.Fatal("the connection of a 5000-byte OPTIONS * body stayed open")
				}
				return
			}
			req, _ := http.NewRequest(http.MethodOptions, s.URL, nil)
			req.URL.Opaque = "*"
			code, body := s.Do(t, req)
			if code != 200 || body != "" {
				t.Fatalf("got %d %q", code, body)
			}
		})
	}
	if inner.seen == 0 || outer.seen != inner.seen {
		t.Fatalf("both policies should see every request: outer %d, inner %d", outer.seen, inner.seen)
	}
}

func TestLast(t *testing.T) {
	if !star.Last(http.NotFoundHandler()) {
		t.Error("Last(a plain handler) = false")
	}
	if star.Last(&policy{}) {
		t.Error("Last(a policy) = true")
	}
}

func TestIs(t *testing.T) {
	for _, tc := range []struct {
		method, uri string
		want        bool
	}{
		{"OPTIONS", "*", true},
		{"OPTIONS", "/", false},
		{"GET", "*", false},
		{"OPTIONS", "/*", false},
	} {
		r := &http.Request{Method: tc.method, RequestURI: tc.uri}
		if got := star.Is(r); got != tc.want {
			t.Errorf("Is(%s %s) = %v", tc.method, tc.uri, got)
		}
	}
}

// logs captures slog's default logger for the test.
func logs(t *testing.T) *syncBuf {
	b := &syncBuf{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(b, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return b
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestGuardReportsOnce(t *testing.T) {
	b := logs(t)
	var g star.Guard
	srv := &http.Server{Addr: ":1"}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, srv))
	for range 3 {
		g.Check(r, "hostfilter")
	}
	if n := strings.Count(b.String(), "OPTIONS *"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, b)
	}
	if !strings.Contains(b.String(), "windhover/hostfilter") {
		t.Fatalf("the warning does not name the package: %s", b)
	}

	b2 := logs(t)
	var g2 star.Guard
	srv.DisableGeneralOptionsHandler = true
	g2.Check(r, "hostfilter")
	if b2.String() != "" {
		t.Fatalf("a server that routes OPTIONS * to its Handler got a warning: %s", b2)
	}
}

// writeHeaders records the status codes written to it.
type writeHeaders struct {
	http.ResponseWriter
	codes []int
}

func (w *writeHeaders) WriteHeader(code int) {
	w.codes = append(w.codes, code)
	w.ResponseWriter.WriteHeader(code)
}

// A body whose read a policy in front fails (too slow: the policy answers
// 408) gets no 200 from Answer on top of that answer; a body over Answer's
// own 4 KiB still gets net/http's 200.
func TestAnswerLeavesFailedReadsToThePolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		body io.Reader
		want []int
	}{
		{"read failed by a policy", iotest.ErrReader(errors.New("too slow")), nil},
		{"limit of a policy in front", &limited{}, nil},
		{"over 4 KiB", strings.NewReader(strings.Repeat("a", 5000)), []int{200}},
		{"small", strings.NewReader("abc"), []int{200}},
	} {
		r := httptest.NewRequest(http.MethodOptions, "*", tc.body)
		w := &writeHeaders{ResponseWriter: httptest.NewRecorder()}
		star.Answer(w, r)
		if !slices.Equal(w.codes, tc.want) {
			t.Errorf("%s: WriteHeader calls %v, want %v", tc.name, w.codes, tc.want)
		}
	}
}

// limited fails its reads as a body limit of 10 bytes in front would.
type limited struct{}

func (*limited) Read([]byte) (int, error) { return 0, &http.MaxBytesError{Limit: 10} }
