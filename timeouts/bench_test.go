package timeouts

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// request returns a parsed request with a body of n bytes (none if 0), and a
// function that rewinds the body.
func benchRequest(tb testing.TB, n int) (*http.Request, func()) {
	method := "GET"
	if n > 0 {
		method = "POST"
	}
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " /x HTTP/1.1\r\nHost: example.com\r\n\r\n")))
	require.NoError(tb, err)
	if n == 0 {
		r.Body = http.NoBody
		return r, func() {}
	}
	body := testserver.NewRewindBody(make([]byte, n))
	r.Body, r.ContentLength = body, int64(n)
	return r, body.Rewind
}

var (
	small = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello\n")
	})
	readBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [32 << 10]byte
		for {
			if _, err := r.Body.Read(buf[:]); err != nil {
				break
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	mib      = make([]byte, 1<<20)
	writeMiB = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(mib); i += 32 << 10 {
			_, _ = w.Write(mib[i : i+32<<10])
		}
	})
)

// benchCases are the requests the benchmarks and allocation tests measure:
// a small response, a 1 MiB body read, a 1 MiB response written, and a small
// response to a small body the handler ignores (drained when the response
// starts).
var benchCases = []struct {
	name  string
	body  int
	bytes int64
	h     http.Handler
}{
	{"small", 0, 0, small},
	{"body=1MiB", 1 << 20, 1 << 20, readBody},
	{"response=1MiB", 0, 1 << 20, writeMiB},
	{"ignored=100B", 100, 0, small},
}

func TestHandlerAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	pol, err := New(Config{})
	require.NoError(t, err)
	w := testserver.NewNopWriter()
	for _, tt := range benchCases {
		r, rewind := benchRequest(t, tt.body)
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(100, func() {
				rewind()
				h.ServeHTTP(w, r)
			})
		}
		bare, policed := allocs(tt.h), allocs(pol.Handler(tt.h))
		t.Logf("%s: %v allocations bare, %v policed", tt.name, bare, policed)
		// A request without a body takes its state from a pool; one with
		// a body allocates its state with the copy of the request it
		// hands on.
		budget := 1.0
		if tt.body == 0 {
			budget = 0
		}
		assert.LessOrEqual(t, policed-bare, budget, "%s: %v allocations bare, %v policed", tt.name, bare, policed)
	}
}

func BenchmarkHandler(b *testing.B) {
	pol, err := New(Config{})
	require.NoError(b, err)
	for _, tt := range benchCases {
		for _, mode := range []string{"bare", "timeouts"} {
			h := tt.h
			if mode == "timeouts" {
				h = pol.Handler(h)
			}
			b.Run(tt.name+"/"+mode, func(b *testing.B) {
				w := testserver.NewNopWriter()
				r, rewind := benchRequest(b, tt.body)
				b.ReportAllocs()
				b.SetBytes(tt.bytes)
				for b.Loop() {
					rewind()
					h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkServer measures whole requests over loopback with and without the
// policy, h1 and h2c, in one run.
func BenchmarkServer(b *testing.B) {
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C} {
		for _, tt := range benchCases {
			for _, mode := range []string{"bare", "timeouts"} {
				b.Run(string(p)+"/"+tt.name+"/"+mode, func(b *testing.B) {
					h := tt.h
					if mode == "timeouts" {
						pol, _ := New(Config{})
						h = pol.Handler(h)
					}
					// As after Apply: "OPTIONS *" reaches the handler.
					s := testserver.Start(b, h, p, func(ts *httptest.Server) { ts.Config.DisableGeneralOptionsHandler = true })
					body := make([]byte, tt.body)
					b.SetBytes(tt.bytes)
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							var req *http.Request
							if tt.body > 0 {
								req, _ = http.NewRequest("POST", s.URL, bytes.NewReader(body))
							} else {
								req, _ = http.NewRequest("GET", s.URL, nil)
							}
							res, err := s.Client.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, res.Body)
							res.Body.Close()
						}
					})
				})
			}
		}
	}
}
