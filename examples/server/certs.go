package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/windhover/windhover/certauth"
)

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
