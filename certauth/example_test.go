package certauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/windhover/windhover/certauth"
)

// A host that allows client certificates, and a route that requires one.
func Example() {
	pki := newExamplePKI()
	pol, err := certauth.New(certauth.Config{
		Mode:      certauth.AllowCertificate,
		ClientCAs: pki.roots,
		OnReject:  func(_ *http.Request, err error) { fmt.Println("refused:", err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin", pol.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+certauth.FromRequest(r).Certificate.Subject.CommonName)
	})))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))

	srv := httptest.NewUnstartedServer(pol.Handler(mux))
	srv.TLS, err = pol.TLSConfig(&tls.Config{Certificates: []tls.Certificate{pki.server}})
	if err != nil {
		log.Fatal(err)
	}
	srv.StartTLS()
	defer srv.Close()

	for _, client := range []*tls.Certificate{nil, &pki.alice} {
		for _, path := range []string{"/", "/admin"} {
			fmt.Println(path, fetch(srv, pki, client, path))
		}
	}
	// Output:
	// / 200 hello
	// refused: windhover/certauth: no validated client certificate
	// /admin 403 Forbidden
	// / 200 hello
	// /admin 200 hello alice
}

// Per-host policy: api.example.com requires a certificate, www.example.com
// asks for none, and a request for api on a www connection gets 421.
func ExamplePolicy_TLSConfig() {
	pki := newExamplePKI()
	pol, err := certauth.New(certauth.Config{
		ClientCAs: pki.roots,
		Hosts: map[string]certauth.Mode{
			"api.example.com": certauth.RequireCertificate,
			"www.example.com": certauth.NoCertificate,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := certauth.FromRequest(r); id != nil {
			io.WriteString(w, "hello "+id.Certificate.Subject.CommonName)
			return
		}
		io.WriteString(w, "hello stranger")
	})
	srv := httptest.NewUnstartedServer(pol.Handler(hello))
	// The certificates go into the base config: the per-host configurations
	// are clones of it.
	srv.TLS, err = pol.TLSConfig(&tls.Config{Certificates: []tls.Certificate{pki.server}})
	if err != nil {
		log.Fatal(err)
	}
	srv.StartTLS()
	defer srv.Close()

	for _, tc := range []struct{ serverName, host string }{
		{"www.example.com", "www.example.com"},
		{"api.example.com", "api.example.com"},
		{"www.example.com", "api.example.com"},
	} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      pki.roots,
			ServerName:   tc.serverName,
			Certificates: []tls.Certificate{pki.alice},
		}}
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Host = tc.host
		res, err := tr.RoundTrip(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		fmt.Printf("SNI %s, Host %s: %d %s\n", tc.serverName, tc.host, res.StatusCode, body)
	}
	// Output:
	// SNI www.example.com, Host www.example.com: 200 hello stranger
	// SNI api.example.com, Host api.example.com: 200 hello alice
	// SNI www.example.com, Host api.example.com: 421 Misdirected Request
}

// Behind a proxy that terminates TLS, the client's certificate arrives in a
// header, believed only from the proxy's address.
func ExamplePolicy_Handler_forwarded() {
	pki := newExamplePKI()
	pol, err := certauth.New(certauth.Config{
		ClientCAs:      pki.roots,
		TrustedProxies: []string{"127.0.0.1"}, // or "unix" for a proxy on a Unix socket
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(pol.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := certauth.FromRequest(r)
		fmt.Fprintf(w, "hello %s (forwarded: %v)", id.Certificate.Subject.CommonName, id.Forwarded)
	})))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-Client-Cert", base64.StdEncoding.EncodeToString(pki.alice.Leaf.Raw))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output:
	// 200 hello alice (forwarded: true)
}

// Apply puts the policy on a server's TLS configuration.
func ExamplePolicy_Apply() {
	roots, err := x509.SystemCertPool() // or a pool of your own CAs
	if err != nil {
		log.Fatal(err)
	}
	pol, err := certauth.New(certauth.Config{
		Mode:      certauth.RequireCertificate,
		ClientCAs: roots,
		CRLFiles:  []string{"/etc/ssl/crl/clients.crl"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The server's certificate goes into its TLSConfig, where Apply checks
	// it is, rather than to ListenAndServeTLS.
	cert, err := tls.LoadX509KeyPair("server.crt", "server.key")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:      ":8443",
		Handler:   pol.Handler(http.DefaultServeMux),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
	}
	if err := pol.Apply(srv); err != nil {
		log.Fatal(err) // names the setting Apply would have weakened
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

func ExampleFromRequest() {
	http.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		id := certauth.FromRequest(r)
		if id == nil {
			http.Error(w, "no certificate", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "subject %s\nSANs %v\nSHA-256 %s\nchain of %d\n",
			id.Subject, id.SANs(), id.FingerprintHex(), len(id.Chain))
	})
}

// examplePKI is a root CA, a server certificate for 127.0.0.1 and the
// example.com names, and a client certificate for alice.
type examplePKI struct {
	roots         *x509.CertPool
	server, alice tls.Certificate
}

func newExamplePKI() *examplePKI {
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, _ := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	root, _ = x509.ParseCertificate(der)
	issue := func(serial int64, cn string, eku x509.ExtKeyUsage, names []string) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{eku}, DNSNames: names,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
		leaf, _ := x509.ParseCertificate(der)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	}
	p := &examplePKI{roots: x509.NewCertPool()}
	p.roots.AddCert(root)
	p.server = issue(2, "server", x509.ExtKeyUsageServerAuth, []string{"api.example.com", "www.example.com"})
	p.alice = issue(3, "alice", x509.ExtKeyUsageClientAuth, nil)
	return p
}

// fetch GETs path from srv, trusting the example root and sending client if
// asked, and returns the status and body.
func fetch(srv *httptest.Server, pki *examplePKI, client *tls.Certificate, path string) string {
	cfg := &tls.Config{RootCAs: pki.roots}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get(srv.URL + path)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(body)))
}
