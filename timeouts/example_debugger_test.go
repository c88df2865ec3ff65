package timeouts_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/windhover/windhover/timeouts"
)

// Kestrel's timeouts stand down while a debugger is attached, so that a
// breakpoint does not cost the connections it holds; here too, unless
// EnforceWhenDebugged says otherwise. Run normally, this example's idle
// connection is closed after its keep-alive timeout; run under a debugger
// (dlv test, or with strace attached), it stays open until the debugger
// detaches, and is closed a second or so after.
func ExampleConfig_enforceWhenDebugged() {
	pol, err := timeouts.New(timeouts.Config{
		KeepAliveTimeout:    200 * time.Millisecond,
		EnforceWhenDebugged: false, // the default, as in Kestrel: stand down under a debugger
		OnReject: func(r *http.Request, err error) {
			fmt.Println("keep-alive timeout:", errors.Is(err, timeouts.ErrKeepAliveTimeout))
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

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	answer, _ := io.ReadAll(c) // nothing sent: wait for the server to close
	fmt.Println("closed without an answer:", len(answer) == 0)
	// Output:
	// keep-alive timeout: true
	// closed without an answer: true
}
