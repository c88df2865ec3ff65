package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/windhover/windhover/certauth"
)

// newCertPolicy builds the client-certificate policy. -trusted-proxies
// reaches it only with -client-ca: a forwarded certificate that cannot be
// validated is not believed, and the policy, trusting nobody, then removes
// X-Client-Cert from every request, so that no handler takes it for one a
// proxy vouched for. The proxies may still be trusted for X-Forwarded-For.
func newCertPolicy(o options, onReject func(*http.Request, error)) (*certauth.Policy, error) {
	cfg := certauth.Config{OnReject: onReject}
	var err error
	if cfg.Mode, err = parseMode(o.clientCertMode); err != nil {
		return nil, err
	}
	if cfg.Hosts, err = parseHostModes(o.clientCertHosts); err != nil {
		return nil, err
	}
	if o.clientCA == "" {
		if asks(cfg) {
			return nil, errors.New("-client-cert-mode and -client-cert-hosts ask for client certificates, which need -client-ca")
		}
		return certauth.New(cfg)
	}
	if cfg.ClientCAs, err = loadPool(o.clientCA); err != nil {
		return nil, err
	}
	cfg.TrustedProxies = splitList(o.trustedProxies)
	return certauth.New(cfg)
}

// asks reports whether cfg asks some TLS clients for a certificate.
func asks(cfg certauth.Config) bool {
	if cfg.Mode != certauth.NoCertificate {
		return true
	}
	for _, m := range cfg.Hosts {
		if m != certauth.NoCertificate {
			return true
		}
	}
	return false
}

// parseMode reads -client-cert-mode, in its short form or Kestrel's name.
func parseMode(s string) (certauth.Mode, error) {
	switch strings.ToLower(s) {
	case "", "none", "nocertificate":
		return certauth.NoCertificate, nil
	case "allow", "allowcertificate":
		return certauth.AllowCertificate, nil
	case "require", "requirecertificate":
		return certauth.RequireCertificate, nil
	}
	return 0, fmt.Errorf("-client-cert-mode %q: want none, allow or require", s)
}

// parseHostModes reads -client-cert-hosts: name=mode pairs, ';'-separated.
func parseHostModes(s string) (map[string]certauth.Mode, error) {
	entries := splitList(s)
	if len(entries) == 0 {
		return nil, nil
	}
	modes := make(map[string]certauth.Mode, len(entries))
	for _, e := range entries {
		name, mode, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("-client-cert-hosts: %q is not name=mode", e)
		}
		m, err := parseMode(strings.TrimSpace(mode))
		if err != nil {
			return nil, fmt.Errorf("-client-cert-hosts %q: %w", e, err)
		}
		modes[strings.TrimSpace(name)] = m
	}
	return modes, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("-client-ca %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// splitList splits a ';'-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ";") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// whoami answers with the client certificate's identity, or 403 without
// one: validated by certs, or as crypto/tls saw it if certs is nil (-bare).
func whoami(certs *certauth.Policy) http.Handler {
	if certs == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				http.Error(w, "no client certificate", http.StatusForbidden)
				return
			}
			fmt.Fprintf(w, "subject: %s\n", r.TLS.PeerCertificates[0].Subject)
		})
	}
	return certs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := certauth.FromRequest(r)
		fmt.Fprintf(w, "subject: %s\nsans: %s\nsha256: %s\nforwarded: %v\n",
			id.Subject, strings.Join(id.SANs(), ", "), id.FingerprintHex(), id.Forwarded)
	}))
}
