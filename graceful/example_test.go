package graceful_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/windhover/windhover/graceful"
)

// A server that stops when its context ends, after answering one request.
func Example() {
	g, err := graceful.New(graceful.Config{DisableSignals: true, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ready", g.ReadyHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	g.Add(&http.Server{Handler: g.Handler(mux)}, ln)

	ctx, stop := context.WithCancel(context.Background())
	go func() {
		defer stop()
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			log.Print(err)
			return
		}
		defer res.Body.Close()
		io.Copy(io.Discard, io.TeeReader(res.Body, printer{}))
	}()
	if err := g.Run(ctx); err != nil {
		log.Fatal(err)
	}
	rep := g.Report()
	fmt.Println("stopped by the context:", errors.Is(rep.Cause, graceful.ErrContextDone))
	fmt.Println("timed out:", rep.TimedOut)
	// Output:
	// hello
	// stopped by the context: true
	// timed out: false
}

type printer struct{}

func (printer) Write(p []byte) (int, error) { return fmt.Print(string(p)) }

// A program's main: HTTP, HTTPS and a Unix socket served until SIGINT or
// SIGTERM, with five seconds for the load balancer to notice the readiness
// check fail before the listeners close.
func Example_main() {
	g, err := graceful.New(graceful.Config{DrainDelay: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz/ready", g.ReadyHandler())
	h := g.Handler(mux)

	g.Add(&http.Server{Addr: ":8080", Handler: h}, nil)
	g.AddTLS(&http.Server{Addr: ":8443", Handler: h}, nil, "cert.pem", "key.pem")
	unix, err := net.Listen("unix", "/run/app/http.sock")
	if err != nil {
		log.Fatal(err)
	}
	g.Add(&http.Server{Handler: h}, unix) // its file is removed on the way out

	err = g.Run(context.Background())
	rep := g.Report()
	log.Printf("stopped (%v) in %v: %d of %d requests in flight completed, %d connections closed at the deadline",
		rep.Cause, rep.Duration, rep.Completed, rep.InFlight, rep.ForcedClosed+rep.ForcedClosedHijacked)
	if err != nil {
		log.Fatal(err)
	}
}

// A hijacked connection (a WebSocket, say) is told when the stop begins, so
// that it can say goodbye in its own protocol; if it is still open at the
// shutdown deadline, the group closes it.
func ExampleGroup_Stopping() {
	g, err := graceful.New(graceful.Config{})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/chat", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		go func() {
			<-g.Stopping()
			brw.WriteString("server going away\n")
			brw.Flush()
			conn.Close()
		}()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(line)
			brw.Flush()
		}
	})
	g.Add(&http.Server{Addr: ":8080", Handler: g.Handler(http.DefaultServeMux)}, nil)
	if err := g.Run(context.Background()); err != nil {
		log.Print(err)
	}
}

// The ready handler answers 200 until the stop begins, and 503 from then on.
func ExampleGroup_ReadyHandler() {
	g, err := graceful.New(graceful.Config{DisableSignals: true})
	if err != nil {
		log.Fatal(err)
	}
	ready := g.ReadyHandler()
	check := func() {
		w := httptest.NewRecorder()
		ready.ServeHTTP(w, httptest.NewRequest("GET", "/ready", nil))
		fmt.Println(w.Code)
	}
	check()

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }() // no servers: just the lifecycle
	stop()
	<-g.Stopping()
	check()
	fmt.Println(<-done)
	// Output:
	// 200
	// 503
	// <nil>
}
