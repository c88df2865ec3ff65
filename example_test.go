package windhover_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"

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
	if err := lim.Apply(srv.Config); err != nil {        // server settings
		log.Fatal(err)
	}
	srv.Listener = lim.Listener(srv.Listener) // connection limit
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

// Every policy put on an existing server in one call: the server keeps its
// handler, and each refusal comes from the policy that owns it, described
// alike for the log, and counted in the metrics.
func ExampleHarden() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the policy that cut the body answers
		}
		fmt.Fprintln(w, "hello")
	})
	srv := httptest.NewUnstartedServer(app)
	s, err := windhover.Harden(srv.Config, windhover.Config{
		Limits:       limits.Config{MaxRequestBodySize: 10},
		AllowedHosts: []string{"127.0.0.1", "example.com"},
		OnReject: func(_ *http.Request, err error) {
			r, _ := windhover.RefusalOf(err)
			fmt.Printf("refused by %s: %s, %d\n", r.Policy, r.Reason, r.Status)
		},
	})
	if err != nil {
		log.Fatal(err) // a bad Config, or a setting of the server a policy would weaken
	}
	reg := prometheus.NewRegistry()
	if err := s.Register(reg); err != nil {
		log.Fatal(err)
	}
	srv.Listener = s.Listener(srv.Listener) // or s.Run(ctx): serve, and drain on SIGTERM
	srv.Start()
	defer srv.Close()

	send := func(host, body string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		text, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s %d: %s", host, res.StatusCode, text)
	}
	send("example.com", "hi")
	send("evil.example", "hi")
	send("example.com", "far too long a body")

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "windhover_rejections_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if v := s.GetCounter().GetValue(); v > 0 {
				l := s.GetLabel() // policy, policy_name, reason
				fmt.Println(l[0].GetValue(), l[2].GetValue(), v)
			}
		}
	}
	// Output:
	// example.com 200: hello
	// refused by hostfilter: host_not_allowed, 400
	// evil.example 400: invalid hostname
	// refused by limits: body_too_large, 413
	// example.com 413: Request Entity Too Large
	// hostfilter host_not_allowed 1
	// limits body_too_large 1
}
