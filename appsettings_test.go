package windhover

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

// appsettings is an ASP.NET Core application's file, with sections that
// are not windhover's.
const appsettings = `{
  "Logging": { "LogLevel": { "Default": "Information" } },
  "ConnectionStrings": { "Db": "Server=db" },
  "AllowedHosts": "example.com;*.example.com",
  "Kestrel": {
    "Limits": {
      "MaxConcurrentConnections": 100,
      "MaxConcurrentUpgradedConnections": 0,
      "MaxRequestBodySize": 10485760,
      "MaxRequestBufferSize": 1048576,
      "MaxResponseBufferSize": null,
      "MaxRequestLineSize": 4096,
      "MaxRequestHeadersTotalSize": 16384,
      "MaxRequestHeaderCount": 50,
      "KeepAliveTimeout": "00:02:10",
      "RequestHeadersTimeout": "00:00:15.5",
      "MinRequestBodyDataRate": { "BytesPerSecond": 100, "GracePeriod": "00:00:10" },
      "MinResponseDataRate": null,
      "Http2": { "MaxStreamsPerConnection": 50, "MaxFrameSize": 32768, "KeepAlivePingDelay": "00:00:30",
                 "MaxRequestHeaderFieldSize": 16384 }
    },
    "EndpointDefaults": { "Protocols": "Http1AndHttp2" },
    "Endpoints": {
      "Http":  { "Url": "http://*:5000" },
      "Https": { "Url": "https://localhost:5001",
                 "Certificate": { "Path": "cert.pem", "KeyPath": "key.pem" },
                 "ClientCertificateMode": "AllowCertificate",
                 "Sni": { "api.example.com": { "ClientCertificateMode": "RequireCertificate",
                                               "Certificate": { "Path": "api.pem", "KeyPath": "api.key" } } } },
      "Unix":  { "Url": "http://unix:/run/app/http.sock" }
    }
  },
  "Windhover": {
    "MaxConnectionsPerClient": 16,
    "ClientIPv6PrefixLength": 56,
    "MaxConnectionAge": "00:10:00",
    "MaxRequestsPerConnection": 1000,
    "EnforceTimeoutsWhenDebugged": true,
    "RateLimiter": { "PermitsPerSecond": 20, "Burst": 40, "TrustedProxies": ["10.0.0.0/8"] },
    "ConcurrencyLimiter": { "PermitLimit": 64, "QueueLimit": 128 },
    "ClientCertificates": { "ClientCAs": ["ca.pem"], "TrustedProxies": ["unix"] },
    "ShutdownTimeout": "00:00:20",
    "DrainDelay": "5s",
    "LivePath": "/healthz",
    "ReadyPath": "/readyz",
    "MetricsPath": "/metrics"
  }
}`

// TestParseConfigKestrelMeanings: every setting is read with Kestrel's
// meaning into the section of Config that enforces it.
func TestParseConfigKestrelMeanings(t *testing.T) {
	cfg, err := ParseConfig([]byte(appsettings))
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com", "*.example.com"}, cfg.AllowedHosts)
	l := cfg.Limits
	assert.Equal(t, 100, l.MaxConcurrentConnections)
	assert.Equal(t, limits.NoUpgrades, l.MaxConcurrentUpgradedConnections)
	assert.Equal(t, int64(10485760), l.MaxRequestBodySize)
	assert.Equal(t, 4096, l.MaxRequestLineSize)
	assert.Equal(t, 16384, l.MaxRequestHeadersTotalSize)
	assert.Equal(t, 50, l.MaxRequestHeaderCount)
	assert.Equal(t, limits.HTTP2Limits{MaxStreamsPerConnection: 50, MaxFrameSize: 32768, KeepAlivePingDelay: 30 * time.Second}, l.HTTP2)
	assert.Equal(t, 16, l.MaxConnectionsPerClient)
	assert.Equal(t, 0, l.ClientIPv4PrefixLen)
	assert.Equal(t, 56, l.ClientIPv6PrefixLen)
	assert.Equal(t, 10*time.Minute, l.MaxConnectionAge)
	assert.Equal(t, 1000, l.MaxRequestsPerConnection)
	tc := cfg.Timeouts
	assert.Equal(t, 130*time.Second, tc.KeepAliveTimeout)
	assert.Equal(t, 15500*time.Millisecond, tc.RequestHeadersTimeout)
	assert.Equal(t, timeouts.Rate{BytesPerSecond: 100, GracePeriod: 10 * time.Second}, tc.MinRequestBodyDataRate)
	assert.Equal(t, timeouts.Off, tc.MinResponseDataRate)
	assert.Equal(t, -1, tc.MaxUnsentResponseBytes)
	assert.True(t, tc.EnforceWhenDebugged)

	require.Len(t, cfg.Endpoints, 3)
	assert.Equal(t, Endpoint{Name: "Http", URL: "http://*:5000", Network: "tcp", Address: ":5000"}, cfg.Endpoints[0])
	assert.Equal(t, Endpoint{Name: "Https", URL: "https://localhost:5001", TLS: true, Network: "tcp", Address: "localhost:5001",
		Certificate: CertificateFiles{"cert.pem", "key.pem"}}, cfg.Endpoints[1])
	assert.Equal(t, Endpoint{Name: "Unix", URL: "http://unix:/run/app/http.sock", Network: "unix", Address: "/run/app/http.sock"}, cfg.Endpoints[2])
	require.NotNil(t, cfg.Protocols)
	assert.True(t, cfg.Protocols.HTTP1() && cfg.Protocols.HTTP2() && !cfg.Protocols.UnencryptedHTTP2(), "%v", cfg.Protocols)
	assert.Equal(t, CertificateFiles{}, cfg.Certificate, "the endpoint's certificate is its own")
	assert.Equal(t, map[string]CertificateFiles{"api.example.com": {"api.pem", "api.key"}}, cfg.SniCertificates)
	assert.Equal(t, certauth.AllowCertificate, cfg.ClientCertificates.Mode)
	assert.Equal(t, map[string]certauth.Mode{"api.example.com": certauth.RequireCertificate}, cfg.ClientCertificates.Hosts)
	assert.Equal(t, []string{"unix"}, cfg.ClientCertificates.TrustedProxies)
	assert.Equal(t, []string{"ca.pem"}, cfg.ClientCAFiles)

	assert.Equal(t, &limits.RateConfig{Rate: rate.Limit(20), Burst: 40, TrustedProxies: []string{"10.0.0.0/8"}}, cfg.RateLimit)
	assert.Equal(t, &limits.ConcurrencyConfig{MaxConcurrentRequests: 64, RequestQueueLimit: 128}, cfg.Concurrency)
	assert.Equal(t, 20*time.Second, cfg.Shutdown.ShutdownTimeout)
	assert.Equal(t, 5*time.Second, cfg.Shutdown.DrainDelay)
	assert.Equal(t, "/healthz", cfg.LivePath)
	assert.Equal(t, "/readyz", cfg.ReadyPath)
	assert.Equal(t, "/metrics", cfg.MetricsPath)
}

// TestParseConfigNullsAndZeros: null is "no limit" where Kestrel's option
// is nullable, 0 means none at all, and a file without windhover's
// sections is the zero Config.
func TestParseConfigNullsAndZeros(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"Kestrel":{"Limits":{"MaxConcurrentConnections":null,"MaxConcurrentUpgradedConnections":null,"MaxRequestBodySize":null}}}`))
	require.NoError(t, err)
	assert.Equal(t, limits.Config{MaxRequestBodySize: limits.Unlimited}, cfg.Limits)
	cfg, err = ParseConfig([]byte(`{"Kestrel":{"Limits":{"MaxRequestBodySize":0,"MaxResponseBufferSize":0}}}`))
	require.NoError(t, err)
	assert.Equal(t, limits.NoBody, cfg.Limits.MaxRequestBodySize)
	assert.Equal(t, 1, cfg.Timeouts.MaxUnsentResponseBytes)
	cfg, err = ParseConfig([]byte(`{"Logging":{}}`))
	require.NoError(t, err)
	assert.Equal(t, Config{}.Limits, cfg.Limits)
	assert.Nil(t, cfg.Endpoints)
	// A plaintext Http2 endpoint speaks HTTP/2 with prior knowledge alone.
	cfg, err = ParseConfig([]byte(`{"Kestrel":{"Endpoints":{"A":{"Url":"http://127.0.0.1:80","Protocols":"Http2"}}}}`))
	require.NoError(t, err)
	assert.Equal(t, "{UnencryptedHTTP2}", cfg.Protocols.String())
}

// TestParseConfigRefused: what Kestrel refuses, what would mean something
// else here, and what windhover cannot honour, each named by its JSON path;
// every one of them at once.
func TestParseConfigRefused(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"Kestrel":{"Limits":{"MaxRequestBodySize":-1}}}`, "Kestrel.Limits.MaxRequestBodySize = -1: must not be negative"},
		{`{"Kestrel":{"Limits":{"MaxConcurrentConnections":0}}}`, "Kestrel.Limits.MaxConcurrentConnections = 0: must be positive"},
		{`{"Kestrel":{"Limits":{"MaxRequestLineSize":0}}}`, "Kestrel.Limits.MaxRequestLineSize = 0: must be positive"},
		{`{"Kestrel":{"Limits":{"KeepAliveTimeout":"00:00:00"}}}`, "Kestrel.Limits.KeepAliveTimeout = 0s: must be positive"},
		{`{"Kestrel":{"Limits":{"KeepAliveTimeout":"soon"}}}`, `Kestrel.Limits.KeepAliveTimeout: "soon" is not a TimeSpan`},
		{`{"Kestrel":{"Limits":{"KeepAliveTimeout":130}}}`, "Kestrel.Limits.KeepAliveTimeout: 130 is not a duration"},
		{`{"Kestrel":{"Limits":{"MinRequestBodyDataRate":{"BytesPerSecond":0}}}}`, "Kestrel.Limits.MinRequestBodyDataRate.BytesPerSecond = 0: must be positive"},
		{`{"Kestrel":{"Limits":{"MinResponseDataRate":{"BytesPerSecond":0}}}}`, "Kestrel.Limits.MinResponseDataRate.BytesPerSecond = 0: must be positive"},
		{`{"Kestrel":{"Limits":{"MinResponseDataRate":{"GracePeriod":"00:00:05"}}}}`, "Kestrel.Limits.MinResponseDataRate.BytesPerSecond = (missing)"},
		{`{"Kestrel":{"Limits":{"MinResponseDataRate":{"BytesPerSecond":1,"Grace":"00:00:05"}}}}`, "Kestrel.Limits.MinResponseDataRate.Grace: not a setting windhover knows"},
		{`{"Kestrel":{"Limits":{"MaxRequestHeaderCount":"100"}}}`, "Kestrel.Limits.MaxRequestHeaderCount: got a JSON string, want int"},
		{`{"Kestrel":{"Limits":{"Http2":{"MaxRequestHeaderFieldSize":1000}}}}`, "Kestrel.Limits.Http2.MaxRequestHeaderFieldSize = 1000: cannot be enforced"},
		{`{"Kestrel":{"Limits":{"MaxResponseHeaders":1}}}`, "Kestrel.Limits.MaxResponseHeaders: not a setting windhover knows"},
		{`{"Kestrel":{"AddServerHeader":false}}`, "Kestrel.AddServerHeader: not a setting windhover knows"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"http://example.com:80"}}}}`, `Kestrel.Endpoints.A.Url = "http://example.com:80": host "example.com"`},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:443"}}}}`, "Kestrel.Endpoints.A.Certificate = (missing)"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:443","Certificate":{"Path":"a.pfx","Password":"x"}}}}}`, "Kestrel.Endpoints.A.Certificate.Password"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:443","Certificate":{"Subject":"x","Store":"My"}}}}}`, "Kestrel.Endpoints.A.Certificate.Store"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:443","Protocols":"Http1AndHttp2AndHttp3","Certificate":{"Path":"a","KeyPath":"b"}}}}}`, "Kestrel.Endpoints.A.Protocols = \"Http1AndHttp2AndHttp3\": HTTP/3"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:443","ClientCertificateMode":"DelayCertificate","Certificate":{"Path":"a","KeyPath":"b"}}}}}`, "Kestrel.Endpoints.A.ClientCertificateMode = \"DelayCertificate\": cannot be served"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:1","Sni":{"a.example":{"Certificate":{"Path":"a","KeyPath":"b"}}}},"B":{"Url":"https://*:2","Sni":{"a.example":{"Certificate":{"Path":"c","KeyPath":"d"}}}}}}}`, "Kestrel.Endpoints.B.Sni.a.example.Certificate = {c d}: differs from Kestrel.Endpoints.A.Sni.a.example.Certificate"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"https://*:1","Sni":{"a.example":{"ClientCertificateMode":"AllowCertificate","Certificate":{"Path":"a","KeyPath":"b"}}}},"B":{"Url":"https://*:2","Sni":{"a.example":{"ClientCertificateMode":"RequireCertificate","Certificate":{"Path":"a","KeyPath":"b"}}}}}}}`, "Kestrel.Endpoints.B.Sni.a.example.ClientCertificateMode = RequireCertificate: differs from Kestrel.Endpoints.A.Sni.a.example.ClientCertificateMode"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"http://*:1","Protocols":"Http2"},"B":{"Url":"http://*:2","Protocols":"Http1"}}}}`, "give every endpoint the same Protocols"},
		{`{"Kestrel":{"Endpoints":{"A":{"Url":"http://*:1","ClientCertificateMode":"RequireCertificate"}}}}`, "Kestrel.Endpoints.A = http://*:1: is not https"},
		{`{"AllowedHosts":"example.com:80"}`, `AllowedHosts = "example.com:80"`},
		{`{"AllowedHosts":["a"]}`, "AllowedHosts: got a JSON array, want string"},
		{`{"Windhover":{"RateLimiter":{"PermitsPerSecond":0}}}`, "Windhover.RateLimiter.PermitsPerSecond = 0: must be positive"},
		{`{"Windhover":{"ConcurrencyLimiter":{"PermitLimit":-1}}}`, "Windhover.ConcurrencyLimiter.PermitLimit = -1"},
		{`{"Windhover":{"DrainDelay":"-00:00:01"}}`, "Windhover.DrainDelay = -1s: must not be negative"},
		{`{"Windhover":{"MaxConnectionsPerClient":0}}`, "Windhover.MaxConnectionsPerClient = 0: must be positive"},
		{`{"Windhover":{"ClientIPv4PrefixLength":33}}`, "Windhover.ClientIPv4PrefixLength = 33: must be between 1 and 32"},
		{`{"Windhover":{"ClientIPv6PrefixLength":0}}`, "Windhover.ClientIPv6PrefixLength = 0: must be between 1 and 128"},
		{`{"Windhover":{"MaxConnectionAge":"00:00:00"}}`, "Windhover.MaxConnectionAge = 0s: must be positive"},
		{`{"Windhover":{"MaxRequestsPerConnection":-5}}`, "Windhover.MaxRequestsPerConnection = -5: must be positive"},
		{`{"Windhover":{"EnforceTimeoutsWhenDebugged":"yes"}}`, "Windhover.EnforceTimeoutsWhenDebugged"},
		{`{"Windhover":{"Unknown":1}}`, "Windhover.Unknown: not a setting windhover knows"},
		{`[1]`, "got a JSON array"},
		{`{"Limits":{"MaxRequestBodySize":10}}`, "Limits = {...}: is read under Kestrel.Limits"},
		{`{"RateLimiter":{"PermitsPerSecond":1}}`, "RateLimiter = {...}: is read under Windhover.RateLimiter"},
	} {
		_, err := ParseConfig([]byte(c.json))
		if assert.Error(t, err, c.json) {
			assert.Contains(t, err.Error(), c.want, c.json)
		}
	}
	// Every error at once.
	_, err := ParseConfig([]byte(`{"Kestrel":{"Limits":{"MaxRequestBodySize":-1,"MaxRequestLineSize":0}},"Windhover":{"DrainDelay":"x"}}`))
	require.Error(t, err)
	for _, want := range []string{"MaxRequestBodySize", "MaxRequestLineSize", "Windhover.DrainDelay"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestParseConfigThenHarden: a file's mistakes that only Harden can see
// (a limit Kestrel's names allow but the policy refuses) are named too.
func TestParseConfigThenHarden(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"Kestrel":{"Limits":{"Http2":{"MaxFrameSize":100}}}}`))
	require.NoError(t, err)
	_, err = Harden(&http.Server{}, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.Limits: ")
	assert.Contains(t, err.Error(), "HTTP2.MaxFrameSize")
}

func TestParseEndpoint(t *testing.T) {
	for _, c := range []struct {
		url, network, addr string
		tls                bool
	}{
		{"http://localhost:5000", "tcp", "localhost:5000", false},
		{"https://localhost", "tcp", "localhost:443", true},
		{"http://*:8080", "tcp", ":8080", false},
		{"http://+:8080/", "tcp", ":8080", false},
		{"http://0.0.0.0:80", "tcp", ":80", false},
		{"http://[::]:80", "tcp", ":80", false},
		{"http://[::1]:80", "tcp", "[::1]:80", false},
		{"HTTP://127.0.0.1:0", "tcp", "127.0.0.1:0", false},
		{"https://unix:/run/a.sock", "unix", "/run/a.sock", true},
		{"http://unix:@abstract", "unix", "@abstract", false},
	} {
		e, err := ParseEndpoint(c.url)
		if assert.NoError(t, err, c.url) {
			assert.Equal(t, Endpoint{URL: c.url, Network: c.network, Address: c.addr, TLS: c.tls}, e)
		}
	}
	for _, bad := range []string{"localhost:80", "ftp://a:1", "http://unix:", "http://*:80/api", "http://*:http", "http://*:70000", "http://example.com", "http://*:+1"} {
		_, err := ParseEndpoint(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseTimeSpan(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"00:02:10":         130 * time.Second,
		"1.00:00:00":       24 * time.Hour,
		"00:00:00.5":       500 * time.Millisecond,
		"00:00:01.0000001": time.Second + 100,
		"-00:00:01":        -time.Second,
	} {
		got, err := parseTimeSpan(s)
		if assert.NoError(t, err, s) {
			assert.Equal(t, want, got, s)
		}
	}
	for _, s := range []string{"", "1:2", "24:00:00", "00:60:00", "00:00:60", "x.00:00:00", "00:00:NaN", "99999.00:00:00"} {
		_, err := parseTimeSpan(s)
		assert.Error(t, err, s)
	}
}

// FuzzParseConfig: no file makes ParseConfig panic, and a file it takes
// reads the same again after a round trip through its own error-free path.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(appsettings))
	f.Add([]byte(`{"Kestrel":{"Limits":{"MaxRequestBodySize":null,"KeepAliveTimeout":"1.02:03:04.5"}}}`))
	f.Add([]byte(`{"Kestrel":{"Endpoints":{"A":{"Url":"http://unix:/a"}}},"AllowedHosts":"*"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if strings.Contains(err.Error(), "panic") {
				t.Fatal(err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("took invalid JSON %q", data)
		}
		for _, e := range cfg.Endpoints {
			if e.Network != "tcp" && e.Network != "unix" {
				t.Fatalf("endpoint %+v", e)
			}
		}
	})
}

// FuzzParseEndpoint: an endpoint taken is one net.Listen can be given.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"http://localhost:5000", "https://[::1]:1", "http://unix:/a", "http://*:0", "http://%:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		if e.Network == "unix" {
			if e.Address == "" {
				t.Fatalf("%q: empty path", s)
			}
			return
		}
		host, port, err := splitHostPort(e.Address)
		if err != nil || port == "" || (host != "" && host != "localhost" && !isIP(host)) {
			t.Fatalf("%q: address %q", s, e.Address)
		}
	})
}

func splitHostPort(a string) (string, string, error) { return net.SplitHostPort(a) }

func isIP(h string) bool { _, err := netip.ParseAddr(h); return err == nil }
