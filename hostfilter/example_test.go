package hostfilter_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/windhover/windhover/hostfilter"
)

func Example() {
	f, err := hostfilter.New(hostfilter.Config{
		// As ASP.NET reads AllowedHosts from configuration.
		AllowedHosts: hostfilter.ParseAllowedHosts("example.com; *.example.com; 10.0.0.0/8"),
		OnReject: func(r *http.Request, err error) {
			fmt.Println("refused:", err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.Host)
	})))
	defer srv.Close()

	for _, host := range []string{"Example.COM", "api.eu.example.com:8443", "10.1.2.3", "evil.example", "x..example.com"} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s: %d %s", host, res.StatusCode, body)
	}
	fmt.Printf("%+v\n", f.Stats())
	// Output:
	// Example.COM: 200 hello from Example.COM
	// api.eu.example.com:8443: 200 hello from api.eu.example.com:8443
	// 10.1.2.3: 200 hello from 10.1.2.3
	// refused: windhover/hostfilter: host not allowed "evil.example"
	// evil.example: 400 invalid hostname
	// refused: windhover/hostfilter: malformed host "x..example.com"
	// x..example.com: 400 invalid hostname
	// {Allowed:3 Rejected:[0 1 1 0]}
}

func ExampleAllow() {
	h := hostfilter.Allow("example.com", "*.example.com", "[::1]").Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	}))

	for _, host := range []string{"example.com.", "a.b.example.com", "example.com.evil", "[0:0::1]:8080"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %d %s", host, w.Code, w.Body)
	}
	// Output:
	// example.com.: 200 hello
	// a.b.example.com: 200 hello
	// example.com.evil: 400 invalid hostname
	// [0:0::1]:8080: 200 hello
}

func ExampleParseAllowedHosts() {
	fmt.Printf("%q\n", hostfilter.ParseAllowedHosts(" a.example.com;*.example.com; ;[::1];"))
	// Output:
	// ["a.example.com" "*.example.com" "[::1]"]
}

func ExampleNew_errors() {
	for _, hosts := range [][]string{nil, {"example.com:443"}, {"10.0.0.1/8"}} {
		_, err := hostfilter.New(hostfilter.Config{AllowedHosts: hosts})
		fmt.Println(err)
	}
	// Output:
	// windhover/hostfilter: Config.AllowedHosts is empty: no allowed hosts configured (use "*" to allow any host)
	// windhover/hostfilter: Config.AllowedHosts[0] = "example.com:443" has a port; the request's port is ignored, so give the host alone
	// windhover/hostfilter: Config.AllowedHosts[0] = "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)
}

// Check lets a handler answer a refusal its own way: here, by sending the
// client to the canonical host.
func ExampleFilter_Check() {
	f := hostfilter.Allow("example.com", "www.example.com")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Check(r); err != nil {
			http.Redirect(w, r, "https://example.com"+r.URL.RequestURI(), http.StatusPermanentRedirect)
			return
		}
		io.WriteString(w, "hello\n")
	})

	for _, host := range []string{"www.example.com", "example.net"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/page?q=1", nil)
		r.Host = host
		h.ServeHTTP(w, r)
		if loc := w.Header().Get("Location"); loc != "" {
			fmt.Println(host, w.Code, loc)
		} else {
			fmt.Print(host, " ", w.Code, " ", w.Body)
		}
	}
	// Output:
	// www.example.com 200 hello
	// example.net 308 https://example.com/page?q=1
}

// Allows judges a host met outside a request: here, the server name a TLS
// client asks for, before the handshake goes on.
func ExampleFilter_Allows() {
	f := hostfilter.Allow("*.example.com")
	for _, name := range []string{"api.example.com", "example.com", "API.EXAMPLE.COM."} {
		fmt.Println(name, f.Allows(name))
	}
	// Output:
	// api.example.com true
	// example.com false
	// API.EXAMPLE.COM. true
}

// Apply routes "OPTIONS *" through the filter, which net/http would
// otherwise answer itself, for any host, before any handler.
func ExampleFilter_Apply() {
	f := hostfilter.Allow("example.com")
	srv := httptest.NewUnstartedServer(f.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "the application\n") // never reached by "OPTIONS *"
	})))
	if err := f.Apply(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	for _, host := range []string{"example.com", "evil.example"} {
		req, _ := http.NewRequest("OPTIONS", srv.URL, nil)
		req.URL.Opaque = "*" // the request target "*"
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("OPTIONS * for %s: %d %q\n", host, res.StatusCode, body)
	}
	// Output:
	// OPTIONS * for example.com: 200 ""
	// OPTIONS * for evil.example: 400 "invalid hostname\n"
}
