package h1wire_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/windhover/windhover/internal/h1wire"
)

// listener wraps each connection it accepts.
type listener struct {
	net.Listener
	w *h1wire.Wire
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.w.Conn(c), nil
}

func ExampleWire() {
	w := h1wire.New(h1wire.Config{
		MaxRequestLineSize: 16, // "GET / HTTP/1.1\r\n" and no longer
		OnReject:           func(e *h1wire.Error) { fmt.Println("refused:", e.Reason) },
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "hello")
	}))
	srv.Listener = listener{srv.Listener, w}
	srv.Start()
	defer srv.Close()

	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: example.com\r\n folded\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n",
	} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			panic(err)
		}
		io.WriteString(c, head)
		status, _ := bufio.NewReader(c).ReadString('\r')
		fmt.Println(strings.TrimSpace(status))
		c.Close()
	}
	fmt.Println(w.Stats().Closed[h1wire.ReasonObsFold], "obs_fold")
	// Output:
	// HTTP/1.1 200 OK
	// refused: obs_fold
	// HTTP/1.1 400 Bad Request
	// refused: request_line_too_long
	// HTTP/1.1 414 Request URI Too Long
	// 1 obs_fold
}
