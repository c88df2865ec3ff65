package windhover_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/internal/testcert"
	"github.com/windhover/windhover/limits"
)

// TestHardenEveryConflict: each setting of an existing server that a policy
// would have to loosen, or that contradicts the Config, is an error that
// names both values, and the server is left as it was.
func TestHardenEveryConflict(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	cert := ca.Server(t).TLS()
	h1, h2 := new(http.Protocols), new(http.Protocols)
	h1.SetHTTP1(true)
	h2.SetHTTP2(true)
	requireCerts := certauth.Config{Mode: certauth.RequireCertificate, ClientCAs: ca.Pool()}
	withCert := func(auth tls.ClientAuthType) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: auth}
	}
	for _, c := range []struct {
		name string
		srv  *http.Server
		cfg  windhover.Config
		want []string
	}{
		{"ReadTimeout under the body rate", &http.Server{ReadTimeout: 2 * time.Second}, windhover.Config{},
			[]string{"http.Server.ReadTimeout = 2s", "Config.MinRequestBodyDataRate (240 B/s after 5s)"}},
		{"WriteTimeout under the response rate", &http.Server{WriteTimeout: 2 * time.Second}, windhover.Config{},
			[]string{"http.Server.WriteTimeout = 2s", "Config.MinResponseDataRate (240 B/s after 5s)"}},
		{"IdleTimeout over the keep-alive timeout", &http.Server{IdleTimeout: 5 * time.Minute}, windhover.Config{},
			[]string{"http.Server.IdleTimeout = 5m0s", "Config.KeepAliveTimeout = 2m10s"}},
		{"no IdleTimeout at all", &http.Server{IdleTimeout: -1}, windhover.Config{},
			[]string{"http.Server.IdleTimeout = -1ns (none)", "Config.KeepAliveTimeout = 2m10s"}},
		{"ReadHeaderTimeout over the request headers timeout", &http.Server{ReadHeaderTimeout: time.Minute}, windhover.Config{},
			[]string{"http.Server.ReadHeaderTimeout = 1m0s", "Config.RequestHeadersTimeout = 30s"}},
		{"MaxHeaderBytes over the header limits", &http.Server{MaxHeaderBytes: 10 << 20}, windhover.Config{},
			[]string{"http.Server.MaxHeaderBytes = 10485760", "Config.MaxRequestLineSize = 8192", "Config.MaxRequestHeadersTotalSize = 32768"}},
		{"HTTP/2 streams over the limit", &http.Server{HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000}}, windhover.Config{},
			[]string{"http.Server.HTTP2.MaxConcurrentStreams = 1000", "Config.HTTP2.MaxStreamsPerConnection = 100"}},
		{"HTTP/2 frames over the limit", &http.Server{HTTP2: &http.HTTP2Config{MaxReadFrameSize: 1 << 20}},
			windhover.Config{Limits: limits.Config{HTTP2: limits.HTTP2Limits{MaxFrameSize: 1 << 15}}},
			[]string{"http.Server.HTTP2.MaxReadFrameSize = 1048576", "Config.HTTP2.MaxFrameSize = 32768"}},
		{"a stronger ClientAuth than no certificates", &http.Server{TLSConfig: withCert(tls.RequireAndVerifyClientCert)}, windhover.Config{},
			[]string{"ClientAuth = RequireAndVerifyClientCert", "Config.Mode = NoCertificate"}},
		{"a stronger ClientAuth than AllowCertificate", &http.Server{TLSConfig: withCert(tls.RequireAndVerifyClientCert)},
			windhover.Config{ClientCertificates: certauth.Config{Mode: certauth.AllowCertificate, ClientCAs: ca.Pool()}},
			[]string{"ClientAuth = RequireAndVerifyClientCert", "Config.Mode = AllowCertificate"}},
		{"client certificates without TLS", &http.Server{}, windhover.Config{ClientCertificates: requireCerts},
			[]string{"Config.ClientCertificates asks for client certificates", "no TLSConfig"}},
		{"client certificates without a server certificate", &http.Server{TLSConfig: &tls.Config{}}, windhover.Config{ClientCertificates: requireCerts},
			[]string{"http.Server.TLSConfig has no Certificates, GetCertificate or GetConfigForClient"}},
		{"Protocols set both ways", &http.Server{Protocols: h1}, windhover.Config{Protocols: h2},
			[]string{"Config.Protocols = {HTTP2}", "the server's Protocols = {HTTP1}"}},
		{"certificates given both ways", &http.Server{TLSConfig: withCert(tls.NoClientCert)},
			windhover.Config{Certificate: windhover.CertificateFiles{CertFile: "a.pem", KeyFile: "a.key"}},
			[]string{"Config.Certificate", "the server's TLSConfig both give certificates"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			readTimeout, maxHeaderBytes, tlsConfig := c.srv.ReadTimeout, c.srv.MaxHeaderBytes, c.srv.TLSConfig
			_, err := windhover.Harden(c.srv, c.cfg)
			if assert.Error(t, err) {
				for _, w := range c.want {
					assert.Contains(t, err.Error(), w)
				}
			}
			assert.Nil(t, c.srv.Handler, "the server is left as it was")
			assert.Equal(t, readTimeout, c.srv.ReadTimeout)
			assert.Equal(t, maxHeaderBytes, c.srv.MaxHeaderBytes)
			assert.Same(t, tlsConfig, c.srv.TLSConfig)
		})
	}
}
