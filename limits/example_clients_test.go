package limits_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/windhover/windhover/limits"
)

func ExampleMaxConnectionsPerClient() {
	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections: 10_000,
		MaxConnectionsPerClient:  1, // nginx's limit_conn; 10 or 100 in practice
		ConnectionOverflow:       limits.OverflowRespond503,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})))
	if err := lim.Apply(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.Listener = lim.Listener(srv.Listener)
	srv.Start()
	defer srv.Close()

	// Two connections from one address: the second is one too many.
	for range 2 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Status)
	}
	st := lim.Stats()
	fmt.Println(st.TrackedClients, "client,", st.Rejected[limits.ReasonClientConnectionLimit], "refused")
	// Output:
	// 200 OK
	// 503 Service Unavailable
	// 1 client, 1 refused
}

func ExampleConnectionLifetime() {
	// Retire each connection at its third request (and after ten minutes),
	// so that a load balancer can spread clients again.
	lim := limits.ConnectionLifetime(10*time.Minute, 3)
	srv := httptest.NewUnstartedServer(lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})))
	if err := lim.Apply(srv.Config); err != nil { // starts each connection's lifetime
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	for i := 1; i <= 4; i++ {
		res, err := srv.Client().Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		fmt.Printf("request %d: Connection: close %v\n", i, res.Close)
	}
	fmt.Println(lim.Stats().ConnectionsRetiredByRequests, "connection retired")
	// Output:
	// request 1: Connection: close false
	// request 2: Connection: close false
	// request 3: Connection: close true
	// request 4: Connection: close false
	// 1 connection retired
}
