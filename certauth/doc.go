// Package certauth asks TLS clients for certificates, validates them, and
// hands the validated identity to the application, after ASP.NET Core
// Kestrel's client certificate modes and ASP.NET's certificate
// authentication; and it accepts a certificate forwarded by a proxy that
// terminates TLS, but only from a proxy the configuration trusts.
//
// A [Config] whose zero value asks for nothing builds a [Policy], which acts
// in the TLS handshake and on each request:
//
//	pol, err := certauth.New(certauth.Config{
//		Mode:      certauth.AllowCertificate,
//		ClientCAs: clientCAs,                      // roots client certificates chain to
//	})
//	if err != nil { ... }
//	mux.Handle("/admin/", pol.Require(admin))       // 403 without a validated certificate
//	srv := &http.Server{
//		Handler:   pol.Handler(mux),                  // identity, per-request checks, 421
//		TLSConfig: &tls.Config{Certificates: certs},  // the server's own
//	}
//	if err := pol.Apply(srv); err != nil { ... }    // srv.TLSConfig asks for certificates
//	srv.ListenAndServeTLS("", "")
//
// Handlers read the identity (subject, SANs, SHA-256 fingerprint, verified
// chain) with [FromRequest].
//
// # Never weaker
//
// [Policy.Apply] and [Policy.TLSConfig] never make a server ask less of its
// clients than it did: a TLS configuration that requires client certificates
// (tls.RequireAnyClientCert, tls.RequireAndVerifyClientCert) takes a policy
// whose modes all require them, one that asks for them (tls.RequestClientCert,
// tls.VerifyClientCertIfGiven) modes that ask at least, or they return an
// error wrapping [ErrWeakerMode] that names both settings. Verification that
// the configuration had crypto/tls do, against its own ClientCAs, still
// happens, before the policy's own: a certificate must pass both. The
// configuration's ClientCAs, VerifyPeerCertificate, VerifyConnection,
// GetConfigForClient, MinVersion, CipherSuites and every other setting are
// kept. A policy that asks for client certificates needs the server's own in
// the configuration ([ErrNoServerCertificates]).
//
// # OPTIONS *
//
// net/http answers "OPTIONS *" with a built-in handler before any Handler,
// so that no policy sees it, unless http.Server.DisableGeneralOptionsHandler
// is set. [Policy.Apply] sets it; the Handler and Require then check such a
// request as any other and, when it passes, answer it as net/http would
// (200, empty) unless another windhover handler follows. A server that
// answers it itself is reported once, by a warning through slog's default
// logger.
//
// # Modes
//
// [NoCertificate] (the default) does not ask for a certificate.
// [AllowCertificate] asks, and a client may send none; but a certificate
// that is sent and fails validation fails the handshake, as in Kestrel.
// [RequireCertificate] fails the handshake without a valid certificate.
//
// Kestrel's DelayCertificate, which asks for a certificate only when the
// application wants one, cannot exist in Go: it needs TLS 1.2 renegotiation
// or TLS 1.3 post-handshake authentication, and crypto/tls offers neither on
// the server. Kestrel's documentation recommends the alternative, which is
// the way here: give the part of the application that needs certificates a
// host name of its own, with its own mode (below).
//
// # Who verifies: crypto/tls or the policy
//
// crypto/tls could verify the certificates itself (tls.VerifyClientCertIfGiven
// and tls.RequireAndVerifyClientCert), but only in one way: chains to
// ClientCAs with the client-authentication key usage, nothing else. It cannot
// accept self-signed certificates or skip the key usage, knows no revocation,
// and when it refuses a certificate no hook runs, so the refusal can be
// neither counted nor reported. So the policy asks crypto/tls only to request
// the certificate (tls.RequestClientCert for AllowCertificate,
// tls.RequireAnyClientCert for RequireCertificate, which keeps crypto/tls's
// own refusal of a client that sends none, and of resuming a session that had
// none) and validates it in VerifyConnection with crypto/x509, with the same
// verification crypto/tls would make plus everything below. VerifyConnection
// runs for resumed sessions too, so a resumed session's certificate is
// validated again. The price: ConnectionState.VerifiedChains stays empty
// (unless the server's own configuration had crypto/tls verify as well:
// "Never weaker", above); the verified chain is Identity.Chain. A request's certificate is validated
// by the same code whether it came in a handshake or from a proxy.
//
// # Validation
//
// As ASP.NET's certificate authentication, in this order: the kind of
// certificate ([CertificateTypes]: Chained by default, SelfSigned, or All;
// any self-signed certificate with a valid signature passes, so pin the ones
// you accept in Config.Validate); the validity period; a chain to
// Config.ClientCAs (the custom trust store) through the intermediates the
// client sent and Config.Intermediates; the client-authentication extended
// key usage (unless SkipClientAuthEKU); revocation; and last Config.Validate,
// the application's own check. Refusals carry a [Reason] and an [*Error]
// that wraps crypto/x509's.
//
// The validity period is checked on every request, not only in the
// handshake: a long-lived connection (HTTP/2, keep-alive, streams) whose
// certificate expires, or is revoked by a reloaded CRL, has its next request
// refused with 403, and is closed.
//
// # Revocation
//
// Config.CRLFiles are revocation lists read from files (Go does not fetch
// them; nor does it speak OCSP). Every certificate of a chain but its root
// must be covered by a current list of its issuer, whose signature is
// checked, unless AllowUnknownRevocation. The files are re-read by
// [Policy.Reload] (on SIGHUP, say) and, by default, when a request finds a
// file's modification time or size changed after CRLCheckInterval; a file
// that fails to parse, such as one caught half-written, leaves the lists in
// force. Cached results from before a reload are not used again.
//
// # The validation cache
//
// As in ASP.NET, successful validations are cached by certificate: 1,024 of
// them, each kept for two minutes after its last use, and never past its
// chain's validity or its CRLs' NextUpdate. Failures are not cached, so a
// flood of bad certificates cannot push good results out, and the bound holds
// under a flood of distinct good ones. The cache is keyed by the
// certificate's DER bytes, so a request whose certificate is cached costs a
// map lookup, not a SHA-256: the fingerprint is computed once, on the miss.
//
// # Per-host policy
//
// Config.Hosts gives server names modes of their own, chosen by the TLS
// server name (SNI) in GetConfigForClient: api.example.com requires a
// certificate while www.example.com asks for none, so browsers visiting www
// see no certificate prompt. HTTP/2 clients reuse a connection for other
// hosts its certificate covers, and any client may send a Host other than
// its SNI; a request whose Host is under a mode its connection's handshake
// did not apply is answered 421 Misdirected Request by the Handler, which
// makes clients retry on a new connection with the right SNI. See
// [Policy.TLSConfig] for what the base configuration must hold.
//
// # Per route
//
// [Policy.Require] answers 403 to a request without a validated
// certificate; the rest of the application may allow anonymous requests.
//
// # Certificates forwarded by a proxy
//
// A proxy that terminates TLS can forward the client's certificate in a
// header, X-Client-Cert by default: base64 DER, or PEM, either possibly
// URL-escaped. nginx does it with
//
//	proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
//
// Kestrel's certificate forwarding believes that header from anyone, so any
// client that can reach the server directly can claim any certificate it has
// a copy of (certificates are public). Here the header is believed only from
// Config.TrustedProxies, IP prefixes or "unix" for a proxy on a Unix socket;
// from anyone else it is removed from the request and ignored. A forwarded
// certificate is validated like any other, except that it comes without
// intermediates: put them in Config.Intermediates. The proxy's own
// certificate, if its connection has one, never stands for the client's.
//
// # Statuses and observability
//
// 421 for a misdirected request; 403 for a route that requires a certificate
// without one, a connection whose certificate no longer validates, and a
// forwarded certificate that is malformed or invalid. A refused request's
// body is not read: over HTTP/1 a refusal of a request with a body closes
// the connection. Handshakes fail with a TLS alert. Every decision is counted in [Policy.Stats], and every refusal
// is reported to Config.OnReject (the request is nil for a handshake).
package certauth
