package timeouts_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/windhover/windhover/timeouts"
)

func Example() {
	pol, err := timeouts.New(timeouts.Config{
		// Kestrel's defaults are 240 bytes per second after 5 seconds; a
		// shorter example.
		MinRequestBodyDataRate: timeouts.Rate{BytesPerSecond: 1000, GracePeriod: 200 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		if errors.Is(err, timeouts.ErrMinRequestBodyDataRate) {
			fmt.Println("handler:", "client too slow")
			return // nothing written: the client gets 408
		}
		fmt.Fprintln(w, "stored")
	})
	srv := httptest.NewUnstartedServer(pol.Handler(upload))
	if err := pol.Apply(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	// A client that sends 10 bytes of a 1,000-byte body, then stalls.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: example\r\nContent-Length: 1000\r\n\r\n0123456789")
	status := make([]byte, len("HTTP/1.1 408 Request Timeout"))
	if _, err := io.ReadFull(c, status); err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", string(status))
	fmt.Println(pol.Stats().BodyRateViolations, "violation")
	// Output:
	// handler: client too slow
	// client: HTTP/1.1 408 Request Timeout
	// 1 violation
}

func ExampleSetMinResponseDataRate() {
	// Server-sent events come at the application's pace, not the client's:
	// switch the response minimum off for that route.
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if err := timeouts.SetMinResponseDataRate(w, timeouts.Off); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: tick\n\n")
	})
	srv := httptest.NewServer(pol.Handler(mux))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Printf("%q\n", body)
	// Output:
	// "data: tick\n\n"
}

func ExamplePolicy_Apply() {
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	if err := pol.Apply(srv); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.IdleTimeout, srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout)

	// A WriteTimeout would cut off downloads that keep the minimum rate.
	fmt.Println(pol.Apply(&http.Server{WriteTimeout: time.Minute}))
	// Output:
	// 2m10s 10s 0s 0s
	// windhover/timeouts: http.Server.WriteTimeout = 1m0s would cut responses that keep Config.MinResponseDataRate (240 B/s after 5s); set it to 0, or Config.KeepServerTimeouts to keep it
}

func ExampleMinDataRates() {
	// Only the two minimum rates, as one middleware in one line.
	h := timeouts.MinDataRates(timeouts.Rate{}, timeouts.Rate{BytesPerSecond: 1024}).Handler(http.NotFoundHandler())
	_ = h
	fmt.Println(timeouts.Rate{}, "|", timeouts.Rate{BytesPerSecond: 1024})
	// Output:
	// 240 B/s after 5s | 1024 B/s after 5s
}

func ExamplePolicy_Listener() {
	pol, err := timeouts.New(timeouts.Config{
		// Kestrel's defaults are 130 s and 30 s; a shorter example.
		KeepAliveTimeout:      time.Second,
		RequestHeadersTimeout: 100 * time.Millisecond,
		OnReject: func(r *http.Request, err error) {
			if r == nil { // a connection timer: there is no request yet
				fmt.Println("violation:", errors.Is(err, timeouts.ErrRequestHeadersTimeout))
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(pol.Handler(http.NotFoundHandler()))
	if err := pol.Apply(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.Listener = pol.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()

	// A client that sends half a request line, then stalls.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HT")
	answer, err := io.ReadAll(c) // until the server closes the connection
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(string(answer), "\r\nConnection: close\r\n"))
	fmt.Println(strings.SplitN(string(answer), "\r\n", 2)[0])
	fmt.Println(pol.Stats().RequestHeadersTimeouts, "request headers timeout")
	// Output:
	// violation: true
	// true
	// HTTP/1.1 408 Request Timeout
	// 1 request headers timeout
}
