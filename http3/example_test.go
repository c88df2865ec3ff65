package http3_test

import (
	"context"
	"log"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/http3"
)

// A hardened server on TCP and HTTP/3 at once, drained together. It needs
// a network and certificate files, so it only compiles.
func ExampleNew() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello over " + r.Proto + "\n"))
	})
	s, err := windhover.Harden(&http.Server{Handler: mux}, windhover.Config{
		AllowedHosts: []string{"example.com"},
		Certificate:  windhover.CertificateFiles{CertFile: "cert.pem", KeyFile: "key.pem"},
	})
	if err != nil {
		log.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ":8443")
	if err != nil {
		log.Fatal(err)
	}
	h3, err := http3.New(s, pc, http3.Config{})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := s.Register(reg); err != nil {
		log.Fatal(err)
	}
	if err := reg.Register(h3.Collector("")); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":8443")
	if err != nil {
		log.Fatal(err)
	}
	// Until SIGINT or SIGTERM; then TCP and HTTP/3 drain together.
	if err := s.Run(context.Background(), ln); err != nil {
		log.Fatal(err)
	}
}
