package windhover_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/windhover/windhover/limits"
)

// A server with Kestrel's limits: every one of them applied by three calls.
func Example() {
	lim, err := limits.New(limits.Config{
		MaxConcurrentConnections: 10_000,
		MaxRequestBodySize:       1 << 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return // a body over the limit: windhover answers 413
		}
		fmt.Fprintf(w, "%d bytes\n", n)
	})

	srv := httptest.NewUnstartedServer(lim.Handler(mux)) // request limits
	lim.Apply(srv.Config)                                // server settings
	srv.Listener = lim.Listener(srv.Listener)            // connection limit
	srv.Start()
	defer srv.Close()

	for _, size := range []int{1 << 20, 1<<20 + 1} {
		res, err := http.Post(srv.URL+"/upload", "application/octet-stream", strings.NewReader(strings.Repeat("x", size)))
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d: %s", res.StatusCode, body)
	}
	// Output:
	// 200: 1048576 bytes
	// 413: Request Entity Too Large
}
