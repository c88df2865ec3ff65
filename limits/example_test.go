package limits_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/windhover/windhover/limits"
)

func Example() {
	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections: 1000,
		MaxRequestHeaderCount:    10,
		MaxRequestBodySize:       1 << 20,
		OnReject: func(r *http.Request, err error) {
			// Through the Listener the head is refused on the wire, at
			// the field line over the limit, before net/http makes a
			// request of it.
			var e *limits.Error
			if errors.As(err, &e) {
				fmt.Println("refused:", e.Reason, "at field line", e.Size, "with no request:", r == nil)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})

	srv := httptest.NewUnstartedServer(lim.Handler(mux))
	if err := lim.Apply(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.Listener = lim.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL, nil)
	for i := range 12 {
		req.Header.Set(fmt.Sprintf("X-Field-%d", i), "x")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status)
	// Output:
	// refused: too_many_headers at field line 11 with no request: true
	// 431 Request Header Fields Too Large
}

func ExampleMaxRequestBodySize() {
	h := limits.MaxRequestBodySize(10).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // over the limit: windhover answers 413
		}
		fmt.Fprintf(w, "%d bytes", len(b))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, body := range []string{"0123456789", "0123456789A"} {
		res, err := http.Post(srv.URL, "text/plain", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d %s\n", res.StatusCode, strings.TrimSpace(string(msg)))
	}
	// Output:
	// 200 10 bytes
	// 413 Request Entity Too Large
}

func ExampleSetMaxRequestBodySize() {
	// The handler may raise or lower the limit until it reads the body,
	// whatever middleware stands between it and the limits handler.
	h := limits.MaxRequestBodySize(4).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			if err := limits.SetMaxRequestBodySize(r, 1<<20); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		n, err := io.Copy(io.Discard, r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("at most %d bytes", tooLarge.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintf(w, "%d bytes", n)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, path := range []string{"/upload", "/other"} {
		// With its Content-Length declared, then chunked: io.MultiReader
		// hides the length.
		for _, body := range []io.Reader{strings.NewReader("a body of 23 characters"), io.MultiReader(strings.NewReader("a body of 23 characters"))} {
			res, err := http.Post(srv.URL+path, "text/plain", body)
			if err != nil {
				log.Fatal(err)
			}
			msg, _ := io.ReadAll(res.Body)
			res.Body.Close()
			fmt.Printf("%s: %d %s\n", path, res.StatusCode, strings.TrimSpace(string(msg)))
		}
	}
	// Output:
	// /upload: 200 23 bytes
	// /upload: 200 23 bytes
	// /other: 413 at most 4 bytes
	// /other: 413 at most 4 bytes
}

func ExampleMaxRequestBodySize_perRoute() {
	// A global limit of 1 KiB, raised to 1 MiB for one route, as chi's
	// r.With(limits.MaxRequestBodySize(1<<20).Handler).Post("/upload", upload)
	// does: the innermost limit holds.
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return // over the limit: windhover answers 413
		}
		fmt.Fprintf(w, "%d bytes", n)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /upload", limits.MaxRequestBodySize(1<<20).Handler(count))
	mux.Handle("POST /", count)
	srv := httptest.NewServer(limits.MaxRequestBodySize(1 << 10).Handler(mux))
	defer srv.Close()

	for _, path := range []string{"/upload", "/comment"} {
		res, err := http.Post(srv.URL+path, "text/plain", strings.NewReader(strings.Repeat("x", 100_000)))
		if err != nil {
			log.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s: %d %s\n", path, res.StatusCode, strings.TrimSpace(string(msg)))
	}
	// Output:
	// /upload: 200 100000 bytes
	// /comment: 413 Request Entity Too Large
}

func ExampleLimiter_Listener() {
	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections: 1,
		ConnectionOverflow:       limits.OverflowRespond503,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Listener = lim.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()

	// The first connection takes the only slot...
	first, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	fmt.Fprint(first, "GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	if _, err := http.ReadResponse(bufioReader(first), nil); err != nil {
		log.Fatal(err)
	}

	// ...so the next is answered 503 and closed.
	res, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, res.Close)
	fmt.Println(lim.Stats().Rejected[limits.ReasonConnectionLimit], "refused")
	// Output:
	// 503 Service Unavailable true
	// 1 refused
}

func ExampleMaxConcurrentUpgradedConnections() {
	h := limits.MaxConcurrentUpgradedConnections(limits.NoUpgrades).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "not reached for upgrades")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status)
	// Output:
	// 503 Service Unavailable
}

func ExampleMaxRequestLineSize() {
	srv := httptest.NewServer(limits.MaxRequestLineSize(40).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	// "GET <path> HTTP/1.1\r\n" is 15 bytes plus the path.
	for _, path := range []string{"/" + strings.Repeat("a", 24), "/" + strings.Repeat("a", 25)} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(len(path)+15, res.Status)
	}
	// Output:
	// 40 200 OK
	// 41 414 Request URI Too Long
}

func ExampleLimiter_Apply() {
	lim, err := limits.New(limits.Config{HTTP2: limits.HTTP2Limits{MaxStreamsPerConnection: 50}})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080"}
	// srv.ListenAndServe() would now also close connections over
	// MaxConcurrentConnections, through the ConnState hook.
	if err := lim.Apply(srv); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.MaxHeaderBytes, srv.HTTP2.MaxConcurrentStreams, srv.HTTP2.MaxReadFrameSize, srv.DisableGeneralOptionsHandler)

	// A server that already allows more than a limit is not silently kept,
	// nor silently made stricter.
	lax := &http.Server{HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000}}
	err = lim.Apply(lax)
	fmt.Println(errors.Is(err, limits.ErrServerConflict))
	fmt.Println(err)
	// Output:
	// 44292 50 16384 true
	// true
	// windhover/limits: http.Server.HTTP2.MaxConcurrentStreams = 1000 is over Config.HTTP2.MaxStreamsPerConnection = 50; lower it, or set the limit to 1000
}

func ExampleNew_invalid() {
	_, err := limits.New(limits.Config{MaxConcurrentConnections: -1})
	fmt.Println(err)
	// Output:
	// windhover/limits: Config.MaxConcurrentConnections = -1 must not be negative (0 means no limit)
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func ExampleMaxRequestHeaders() {
	// At most 3 header fields in at most 100 bytes, Host included.
	srv := httptest.NewServer(limits.MaxRequestHeaders(3, 100).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	for _, n := range []int{1, 2} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("User-Agent", "example") // with Host and Accept-Encoding: 3 fields
		if n == 2 {
			req.Header.Set("X-Fourth", "1")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(len(req.Header)+2, "fields:", res.Status)
	}
	// Output:
	// 3 fields: 200 OK
	// 4 fields: 431 Request Header Fields Too Large
}

func ExampleMaxRequestRate() {
	// Each client address: one request a second, three at once.
	srv := httptest.NewServer(limits.MaxRequestRate(1, 3).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	for range 4 {
		res, err := http.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(res.Status)
		if res.StatusCode == http.StatusTooManyRequests {
			for _, name := range []string{"Retry-After", "RateLimit-Policy", "RateLimit"} {
				fmt.Printf("%s: %s\n", name, res.Header.Get(name))
			}
		}
	}
	// Output:
	// 200 OK
	// 200 OK
	// 200 OK
	// 429 Too Many Requests
	// Retry-After: 1
	// RateLimit-Policy: "default";q=3;w=3
	// RateLimit: "default";r=0;t=1
}

func ExampleNewRateLimiter() {
	// Behind proxies on 10.0.0.0/8 that append to X-Forwarded-For.
	lim, err := limits.NewRateLimiter(limits.RateConfig{
		Rate:           10,
		Burst:          20,
		TrustedProxies: []string{"10.0.0.0/8"},
		OnReject: func(r *http.Request, err error) {
			var e *limits.Error
			if errors.As(err, &e) {
				log.Printf("%s rate limited for %v", e.Key, e.RetryAfter)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, tc := range []struct{ peer, xff string }{
		{"10.0.0.1:5000", "203.0.113.7"},                          // through the proxy
		{"10.0.0.1:5000", "198.51.100.1, 203.0.113.7"},            // the client's own claim is left of the proxy's
		{"10.0.0.1:5000", "203.0.113.7, 10.0.0.2"},                // through two proxies
		{"192.0.2.1:5000", "203.0.113.7"},                         // not from a proxy: the header is ignored
		{"[2001:db8:1:2::abc]:5000", ""},                          // IPv6 clients are grouped by /64
		{"10.0.0.1:5000", "203.0.113.7, not-an-address"},          // fail closed: the proxy's own key
		{"10.0.0.1:5000", "[2001:db8:1:2:3:4:5:6]:443, 10.0.0.3"}, // ports are dropped
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		fmt.Println(lim.ClientKey(r))
	}
	// Output:
	// 203.0.113.7
	// 203.0.113.7
	// 203.0.113.7
	// 192.0.2.1
	// 2001:db8:1:2::/64
	// 10.0.0.1
	// 2001:db8:1:2::/64
}

func ExampleRateConfig_key() {
	// Limit by API key, and requests without one by client address.
	var lim *limits.RateLimiter
	lim, err := limits.NewRateLimiter(limits.RateConfig{
		Rate:  1,
		Burst: 1,
		Key: func(r *http.Request) string {
			if key := r.Header.Get("X-Api-Key"); key != "" {
				return "key " + key
			}
			return "addr " + lim.ClientKey(r)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, tc := range []struct{ addr, apiKey string }{
		{"192.0.2.1:1", "alpha"},
		{"192.0.2.2:1", "alpha"}, // same key from elsewhere: same bucket
		{"192.0.2.1:1", ""},
		{"192.0.2.1:2", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.addr
		if tc.apiKey != "" {
			r.Header.Set("X-Api-Key", tc.apiKey)
		}
		fmt.Println(lim.Check(r) == nil)
	}
	// Output:
	// true
	// false
	// true
	// false
}

// failOpen is a Store that lets requests through while the store it wraps
// fails, rather than answer 503.
type failOpen struct{ limits.Store }

func (f failOpen) Allow(ctx context.Context, key string, q limits.Quota, now time.Time) (limits.Decision, error) {
	d, err := f.Store.Allow(ctx, key, q, now)
	if err != nil {
		log.Printf("rate limit store: %v", err)
		return limits.Decision{Allowed: true, Remaining: q.Burst}, nil
	}
	return d, nil
}

// brokenStore is a store whose backend is down.
type brokenStore struct{}

func (brokenStore) Allow(context.Context, string, limits.Quota, time.Time) (limits.Decision, error) {
	return limits.Decision{}, errors.New("connection refused")
}

func ExampleStore() {
	log.SetOutput(io.Discard)
	defer log.SetOutput(os.Stderr)
	for _, store := range []limits.Store{brokenStore{}, failOpen{brokenStore{}}} {
		lim, err := limits.NewRateLimiter(limits.RateConfig{Rate: 5, Store: store})
		if err != nil {
			log.Fatal(err)
		}
		w := httptest.NewRecorder()
		lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		fmt.Println(w.Code)
	}
	// Output:
	// 503
	// 200
}

func ExampleNewConcurrencyLimiter() {
	lim, err := limits.NewConcurrencyLimiter(limits.ConcurrencyConfig{
		MaxConcurrentRequests: 1,
		RequestQueueLimit:     10,
		RequestQueueTimeout:   100 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	srv := httptest.NewServer(lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
	})))
	defer srv.Close()

	go func() {
		if res, err := http.Get(srv.URL + "/slow"); err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	// The slot is taken: this request waits in the queue, then gives up.
	res, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, "Retry-After:", res.Header.Get("Retry-After"))
	st := lim.Stats()
	fmt.Println(st.ActiveRequests, "active,", st.Rejected[limits.ReasonRequestQueueTimeout], "timed out")
	close(release)
	// Output:
	// 503 Service Unavailable Retry-After: 1
	// 1 active, 1 timed out
}

func ExampleMaxConcurrentRequests() {
	// At most 100 requests in mux at once; any more get 503 at once. Rate
	// limit first, so that a flooding client is turned away before it takes
	// a slot.
	mux := http.NewServeMux()
	h := limits.MaxConcurrentRequests(100).Handler(mux)
	h = limits.MaxRequestRate(10, 20).Handler(h)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", h))
}
