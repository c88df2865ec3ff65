package limits_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/windhover/windhover/limits"
)

func Example() {
	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections: 1000,
		MaxRequestHeaderCount:    10,
		MaxRequestBodySize:       1 << 20,
		OnReject: func(r *http.Request, err error) {
			fmt.Println("refused:", err)
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
	lim.Apply(srv.Config)
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
	// refused: windhover/limits: too many request header fields (limit 10, got 15)
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
	// Bodies of unknown length may be raised from the handler, until it
	// reads; declared lengths are raised per route with
	// Config.MaxRequestBodySizeFunc.
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
		// io.MultiReader hides the length: the body is sent chunked.
		body := io.MultiReader(strings.NewReader("a body of 23 characters"))
		res, err := http.Post(srv.URL+path, "text/plain", body)
		if err != nil {
			log.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s: %d %s\n", path, res.StatusCode, strings.TrimSpace(string(msg)))
	}
	// Output:
	// /upload: 200 23 bytes
	// /other: 413 at most 4 bytes
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

	// "GET <path> HTTP/1.1" is 13 bytes plus the path.
	for _, path := range []string{"/" + strings.Repeat("a", 26), "/" + strings.Repeat("a", 27)} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(len(path)+13, res.Status)
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
	lim.Apply(srv)
	fmt.Println(srv.MaxHeaderBytes, srv.HTTP2.MaxConcurrentStreams, srv.HTTP2.MaxReadFrameSize)
	// Output:
	// 44292 50 16384
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
