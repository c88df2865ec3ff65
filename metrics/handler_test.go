package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// routes is the application of the scripted traffic.
func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return // the policy that cut the body answers
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusInternalServerError) // ignored: not the first
		io.WriteString(w, "tea")
	})
	return mux
}

// script sends the scripted traffic and checks the answers.
func script(t *testing.T, s *testserver.Server) {
	t.Helper()
	for _, tc := range []struct {
		method, target, body string
		status               int
		answer               string
	}{
		{"GET", "/items/1", "", 200, "item 1"},
		{"GET", "/items/22", "", 200, "item 22"},
		{"POST", "/upload", "hello", 200, "5"},
		{"GET", "/missing", "", 404, "404 page not found\n"},
		{"FOO", "/items/1", "", 405, "Method Not Allowed\n"},
		{"GET", "/teapot", "", 418, "tea"},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, s.URL+tc.target, body)
		require.NoError(t, err)
		status, answer := s.Do(t, req)
		require.Equal(t, tc.status, status, "%s %s", tc.method, tc.target)
		require.Equal(t, tc.answer, answer, "%s %s", tc.method, tc.target)
	}
}

// requestSeries is what script leaves in the request metrics, for a scheme
// and protocol version.
func requestSeries(scheme, proto string) string {
	var b strings.Builder
	for _, s := range []struct {
		method, status, route string
		count                 int
		read, written         int
	}{
		{"FOO", "405", "", 1, 0, 19},
		{"GET", "200", "/items/{id}", 2, 0, 13},
		{"GET", "404", "", 1, 0, 19},
		{"GET", "418", "/teapot", 1, 0, 3},
		{"POST", "200", "/upload", 1, 5, 1},
	} {
		method := s.method
		if method == "FOO" {
			method = "_OTHER"
		}
		labels := labelString("http_request_method", method, "http_response_status_code", s.status, "http_route", s.route,
			"network_protocol_name", "http", "network_protocol_version", proto, "url_scheme", scheme)
		b.WriteString(histogram("http_server_request_duration_seconds", labels, "60", s.count, 0))
		b.WriteString(histogram("http_server_request_body_size_bytes", labels, "1000", s.count, s.read))
		b.WriteString(histogram("http_server_response_body_size_bytes", labels, "1000", s.count, s.written))
	}
	for _, method := range []string{"GET", "POST", "_OTHER"} {
		fmt.Fprintf(&b, "http_server_active_requests{http_request_method=%q,url_scheme=%q} 0\n", method, scheme)
	}
	return b.String()
}

// histogram returns the lines of one histogram series with one bucket.
func histogram(name, labels, le string, count, sum int) string {
	return fmt.Sprintf("%s_bucket{%s,le=%q} %d\n%s_bucket{%s,le=\"+Inf\"} %d\n%s_sum{%s} %d\n%s_count{%s} %d\n",
		name, labels, le, count, name, labels, count, name, labels, sum, name, labels, count)
}

var requestNames = []string{
	"http_server_request_duration_seconds",
	"http_server_request_body_size_bytes",
	"http_server_response_body_size_bytes",
	"http_server_active_requests",
}

func TestRequestSeries(t *testing.T) {
	for _, tc := range []struct {
		server          testserver.Proto
		scheme, version string
	}{
		{testserver.H1, "http", "1.1"},
		{testserver.H2, "https", "2"},
		{testserver.H2C, "http", "2"},
	} {
		t.Run(string(tc.server), func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			s := testserver.Start(t, m.Handler(routes()), tc.server)
			script(t, s)
			expect(t, reg, requestSeries(tc.scheme, tc.version), requestNames...)
			lint(t, m)
		})
	}
}

func TestRequestSizesOff(t *testing.T) {
	m, reg := newMetrics(t, Config{})
	s := testserver.Start(t, m.Handler(routes()), testserver.H1)
	script(t, s)
	assert.Equal(t, []string{"http_server_active_requests", "http_server_request_duration_seconds"}, names(t, reg))
}

func TestDefaultBuckets(t *testing.T) {
	m, reg := newMetrics(t, Config{RequestSizes: true})
	s := testserver.Start(t, m.Handler(routes()), testserver.H1)
	script(t, s)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	want := map[string][]float64{
		"http_server_request_duration_seconds": DefaultRequestDurationBuckets,
		"http_server_request_body_size_bytes":  DefaultSizeBuckets,
		"http_server_response_body_size_bytes": DefaultSizeBuckets,
	}
	for _, mf := range mfs {
		if bounds, ok := want[mf.GetName()]; ok {
			var got []float64
			for _, b := range mf.Metric[0].Histogram.Bucket {
				got = append(got, b.GetUpperBound())
			}
			assert.Equal(t, bounds, got, mf.GetName())
			delete(want, mf.GetName())
		}
	}
	assert.Empty(t, want)
}

// TestRouteOtherMetrics checks that Route reports only to its own Metrics.
func TestRouteOtherMetrics(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	other, _ := newMetrics(t, testConfig)
	s := testserver.Start(t, m.Handler(copying(other.Route(routes()))), testserver.H1)
	script(t, s)
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "http_request_method", "POST", "http_route", ""))
	assert.Equal(t, 2.0, value(t, reg, "http_server_request_duration_seconds", "http_request_method", "GET", "http_route", ""))
}

// TestStatus checks the status label: the implicit 200, the first final
// status, none for a hijack without one, 500 for a panic before writing.
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  string
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, "200"},
		{"flush", func(w http.ResponseWriter, r *http.Request) { http.NewResponseController(w).Flush() }, "200"},
		{"write", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }, "200"},
		{"ReadFrom", func(w http.ResponseWriter, r *http.Request) { io.Copy(w, strings.NewReader("x")) }, "200"},
		{"1xx then 204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusNoContent)
			w.WriteHeader(http.StatusOK)
		}, "204"},
		{"write then header", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
			w.WriteHeader(http.StatusNotFound)
		}, "200"},
		{"hijack", func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err == nil {
				brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				brw.Flush()
				c.Close()
			}
		}, ""},
		{"101 then hijack", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "test")
			w.WriteHeader(http.StatusSwitchingProtocols)
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		}, "101"},
		{"panic", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, "500"},
		{"panic after writing", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic(http.ErrAbortHandler)
		}, "202"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			s := testserver.Start(t, m.Handler(tc.handler), testserver.H1)
			c := testserver.Dial(t, s.Addr())
			c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade, close\r\n\r\n")
			c.ClosedByPeer(t)
			eventually(t, reg, 1, "http_server_request_duration_seconds", "http_response_status_code", tc.status)
			eventually(t, reg, 0, "http_server_active_requests")
		})
	}
}

func TestActiveRequests(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			entered, release := make(chan struct{}), make(chan struct{})
			s := testserver.Start(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
			})), p)
			done := make(chan struct{})
			go func() {
				defer close(done)
				req, _ := http.NewRequest("DELETE", s.URL+"/", nil)
				res, err := s.Client.Do(req)
				if err == nil {
					res.Body.Close()
				}
			}()
			<-entered
			scheme := "http"
			if p.IsTLS() {
				scheme = "https"
			}
			assert.Equal(t, 1.0, value(t, reg, "http_server_active_requests", "http_request_method", "DELETE", "url_scheme", scheme))
			close(release)
			<-done
			assert.Equal(t, 0.0, value(t, reg, "http_server_active_requests", "http_request_method", "DELETE", "url_scheme", scheme))
		})
	}
}

// interfaces names the optional interfaces w has.
func interfaces(w http.ResponseWriter) string {
	var have []string
	if _, ok := w.(http.Flusher); ok {
		have = append(have, "Flusher")
	}
	if _, ok := w.(http.Hijacker); ok {
		have = append(have, "Hijacker")
	}
	if _, ok := w.(io.ReaderFrom); ok {
		have = append(have, "ReaderFrom")
	}
	if _, ok := w.(http.Pusher); ok {
		have = append(have, "Pusher")
	}
	return strings.Join(have, ",")
}

// TestInterfaces checks that the handler's ResponseWriter has the optional
// interfaces of net/http's, that http.ResponseController reaches through it,
// and that a flush reaches the client while the handler still runs.
func TestInterfaces(t *testing.T) {
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			m, _ := newMetrics(t, testConfig)
			var outer, inner string
			var errs []error
			proceed := make(chan struct{})
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner = interfaces(w)
				rc := http.NewResponseController(w)
				errs = append(errs,
					rc.SetReadDeadline(time.Now().Add(time.Minute)),
					rc.SetWriteDeadline(time.Now().Add(time.Minute)),
					rc.EnableFullDuplex())
				io.WriteString(w, "first\n")
				errs = append(errs, rc.Flush())
				<-proceed
				io.WriteString(w, "second\n")
			}))
			s := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				outer = interfaces(w)
				h.ServeHTTP(w, r)
			}), p)
			res, err := s.Client.Get(s.URL + "/")
			require.NoError(t, err)
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "first\n", line, "flushed while the handler waits")
			close(proceed)
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "second\n", string(rest))
			assert.Equal(t, outer, inner)
			assert.NotEmpty(t, inner)
			for _, err := range errs {
				assert.NoError(t, err)
			}
		})
	}
}

// TestOptionsStar checks that "OPTIONS *", which net/http would answer
// before the Handler, is measured under Apply and answered as net/http
// answers it, without reaching the application's router (ServeMux would
// answer 400).
func TestOptionsStar(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
	})
	s := serve(t, m, app, testserver.H1)
	require.True(t, s.Config.DisableGeneralOptionsHandler, "Apply must route OPTIONS * to the Handler")
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n")
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "", body)
	assert.Equal(t, int64(0), res.ContentLength)
	assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "http_request_method", "OPTIONS", "http_response_status_code", "200"))
}
