package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/certauth"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

func writeConfig(t *testing.T, json string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appsettings.json")
	require.NoError(t, os.WriteFile(path, []byte(json), 0o600))
	return path
}

// appsettings is an ASP.NET Core application's file: Kestrel's section,
// AllowedHosts, windhover's own section, and one that is the application's.
const appsettings = `{
  "Logging": {"LogLevel": {"Default": "Information"}},
  "AllowedHosts": "example.com;*.example.com",
  "Kestrel": {
    "Limits": {
      "MaxConcurrentConnections": 100,
      "MaxConcurrentUpgradedConnections": 0,
      "MaxRequestBodySize": 1000,
      "MaxRequestLineSize": 4096,
      "MaxRequestHeadersTotalSize": 16384,
      "KeepAliveTimeout": "00:02:10",
      "RequestHeadersTimeout": "00:00:15",
      "MinRequestBodyDataRate": {"BytesPerSecond": 100, "GracePeriod": "00:00:10"},
      "MinResponseDataRate": null
    },
    "Endpoints": {"Http": {"Url": "http://127.0.0.1:5000"}}
  },
  "Windhover": {
    "RateLimiter": {"PermitsPerSecond": 5, "Burst": 10, "TrustedProxies": ["10.0.0.0/8"]},
    "ConcurrencyLimiter": {"PermitLimit": 8, "QueueLimit": 16},
    "ShutdownTimeout": "1.00:00:00",
    "DrainDelay": "00:00:05",
    "ReadyPath": "/ready"
  }
}`

// TestConfigFile reads an appsettings.json into the windhover.Config the
// server runs with, and keeps the example's own settings for what the file
// leaves out: the probe paths the file does not name.
func TestConfigFile(t *testing.T) {
	st, err := parseFlags([]string{"-config", writeConfig(t, appsettings)}, io.Discard)
	require.NoError(t, err)
	c := st.cfg
	assert.Equal(t, limits.Config{
		MaxConcurrentConnections:         100,
		MaxConcurrentUpgradedConnections: limits.NoUpgrades,
		MaxRequestBodySize:               1000,
		MaxRequestLineSize:               4096,
		MaxRequestHeadersTotalSize:       16384,
	}, c.Limits)
	assert.Equal(t, 130*time.Second, c.Timeouts.KeepAliveTimeout)
	assert.Equal(t, 15*time.Second, c.Timeouts.RequestHeadersTimeout)
	assert.Equal(t, timeouts.Rate{BytesPerSecond: 100, GracePeriod: 10 * time.Second}, c.Timeouts.MinRequestBodyDataRate)
	assert.True(t, c.Timeouts.MinResponseDataRate.IsOff(), "null switches a rate off, as in Kestrel")
	assert.Equal(t, []string{"example.com", "*.example.com"}, c.AllowedHosts, "the file's, not -allowed-hosts' default")
	require.NotNil(t, c.RateLimit)
	assert.Equal(t, rate.Limit(5), c.RateLimit.Rate)
	assert.Equal(t, 10, c.RateLimit.Burst)
	assert.Equal(t, []string{"10.0.0.0/8"}, c.RateLimit.TrustedProxies)
	assert.Equal(t, &limits.ConcurrencyConfig{MaxConcurrentRequests: 8, RequestQueueLimit: 16}, c.Concurrency)
	assert.Equal(t, 24*time.Hour, c.Shutdown.ShutdownTimeout)
	assert.Equal(t, 5*time.Second, c.Shutdown.DrainDelay)
	assert.Equal(t, "/healthz", c.LivePath)
	assert.Equal(t, "/ready", c.ReadyPath, "the file's")
	assert.Equal(t, "/metrics", c.MetricsPath)
	require.Len(t, c.Endpoints, 1)
	assert.Equal(t, "127.0.0.1:5000", c.Endpoints[0].Address)
	assert.False(t, st.flagListeners(), "the file's endpoints, without -addr or -unix")
}

// TestConfigFileFlagsOverride gives flags over the file: each replaces the
// setting it names and leaves the others, those of the same section
// included.
func TestConfigFileFlagsOverride(t *testing.T) {
	st, err := parseFlags([]string{"-config", writeConfig(t, appsettings),
		"-max-body", "2000", "-max-upgraded", "3", "-min-rate", "500", "-rate", "7",
		"-trusted-proxies", "unix", "-queue", "0", "-allowed-hosts", "localhost", "-shutdown-timeout", "10s",
	}, io.Discard)
	require.NoError(t, err)
	c := st.cfg
	assert.Equal(t, int64(2000), c.Limits.MaxRequestBodySize)
	assert.Equal(t, 3, c.Limits.MaxConcurrentUpgradedConnections)
	assert.Equal(t, 100, c.Limits.MaxConcurrentConnections, "the file's")
	assert.Equal(t, timeouts.Rate{BytesPerSecond: 500, GracePeriod: 10 * time.Second}, c.Timeouts.MinRequestBodyDataRate,
		"-min-rate keeps the file's GracePeriod")
	assert.Equal(t, timeouts.Rate{BytesPerSecond: 500}, c.Timeouts.MinResponseDataRate, "on again, with the default GracePeriod")
	require.NotNil(t, c.RateLimit)
	assert.Equal(t, rate.Limit(7), c.RateLimit.Rate)
	assert.Equal(t, 10, c.RateLimit.Burst, "the file's")
	assert.Equal(t, []string{"unix"}, c.RateLimit.TrustedProxies)
	assert.Empty(t, c.ClientCertificates.TrustedProxies, "no CAs to validate a forwarded certificate")
	assert.Equal(t, &limits.ConcurrencyConfig{MaxConcurrentRequests: 8}, c.Concurrency)
	assert.Equal(t, []string{"localhost"}, c.AllowedHosts)
	assert.Equal(t, 10*time.Second, c.Shutdown.ShutdownTimeout)
	assert.Equal(t, 5*time.Second, c.Shutdown.DrainDelay, "the file's")

	st, err = parseFlags([]string{"-config", writeConfig(t, appsettings), "-rate", "0", "-max-concurrent", "0", "-queue", "0", "-min-rate", "-1"}, io.Discard)
	require.NoError(t, err)
	assert.Nil(t, st.cfg.RateLimit, "-rate 0: no rate limit")
	assert.Nil(t, st.cfg.Concurrency, "no concurrency limit")
	assert.True(t, st.cfg.Timeouts.MinRequestBodyDataRate.IsOff())

	// -addr or -unix given: they, not the file's endpoints.
	for _, args := range [][]string{{"-addr", "127.0.0.1:0"}, {"-unix", "/tmp/x.sock"}} {
		st, err = parseFlags(append([]string{"-config", writeConfig(t, appsettings)}, args...), io.Discard)
		require.NoError(t, err)
		assert.True(t, st.flagListeners(), "%q", args)
	}
	_, err = parseFlags([]string{"-config", writeConfig(t, appsettings), "-addr", ""}, io.Discard)
	assert.ErrorContains(t, err, "nothing to listen on")
}

// TestConfigFileDefaults: a file without AllowedHosts gets -allowed-hosts'
// default, as no file does; the certificate and client certificate flags
// go where the file's endpoint settings go.
func TestConfigFileDefaults(t *testing.T) {
	for _, args := range [][]string{nil, {"-config", writeConfig(t, `{"Logging": {}}`)}} {
		st, err := parseFlags(args, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, []string{"localhost", "127.0.0.1", "[::1]"}, st.cfg.AllowedHosts)
		assert.Equal(t, "127.0.0.1:8080", st.addr)
		assert.True(t, st.flagListeners())
		assert.Nil(t, st.cfg.Protocols, "net/http's: HTTP/1.1, and HTTP/2 over TLS")
	}

	st, err := parseFlags([]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-client-ca", "ca.pem",
		"-client-cert-mode", "allow", "-client-cert-hosts", "api.example.com=require", "-trusted-proxies", "unix;10.0.0.1", "-h2c"}, io.Discard)
	require.NoError(t, err)
	c := st.cfg
	assert.Equal(t, windhover.CertificateFiles{CertFile: "c.pem", KeyFile: "k.pem"}, c.Certificate)
	assert.Equal(t, []string{"ca.pem"}, c.ClientCAFiles)
	assert.Equal(t, certauth.AllowCertificate, c.ClientCertificates.Mode)
	assert.Equal(t, map[string]certauth.Mode{"api.example.com": certauth.RequireCertificate}, c.ClientCertificates.Hosts)
	assert.Equal(t, []string{"unix", "10.0.0.1"}, c.ClientCertificates.TrustedProxies, "with -client-ca")
	assert.Nil(t, c.RateLimit, "no -rate: nothing to trust the proxies for there")
	require.NotNil(t, c.Protocols)
	assert.Equal(t, "{HTTP1,HTTP2,UnencryptedHTTP2}", c.Protocols.String())

	// A file's client certificate modes need CAs too.
	_, err = parseFlags([]string{"-config", writeConfig(t, `{"Kestrel": {"Endpoints": {"Https": {"Url": "https://127.0.0.1:0",
		"Certificate": {"Path": "c.pem", "KeyPath": "k.pem"}, "ClientCertificateMode": "RequireCertificate"}}}}`)}, io.Discard)
	assert.ErrorContains(t, err, "-client-ca")
}

// TestConfigFileRefused: an error in the file names the setting by its JSON
// path, and the flag that read the file.
func TestConfigFileRefused(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"Kestrel": {"Limits": {"MaxRequestBodySize": -5}}}`, "Kestrel.Limits.MaxRequestBodySize = -5"},
		{`{"Kestrel": {"Limits": {"MaxRequestBodySize": "big"}}}`, "Kestrel.Limits.MaxRequestBodySize: got a JSON string"},
		{`{"Kestrel": {"Limits": {"KeepAliveTimeout": "soon"}}}`, "Kestrel.Limits.KeepAliveTimeout"},
		{`{"Kestrel": {"Limits": {"MaxConcurrentConnectionz": 1}}}`, "Kestrel.Limits.MaxConcurrentConnectionz: not a setting"},
		{`{"AllowedHosts": "example.com:443"}`, "AllowedHosts"},
		{`{"Windhover": {"RateLimiter": {"PermitsPerSecond": -1}}}`, "Windhover.RateLimiter.PermitsPerSecond"},
		{`{"Kestrel": {"Endpoints": {"Web": {"Url": "http://example.com:80"}}}}`, "Kestrel.Endpoints.Web.Url"},
		{`{`, "unexpected end of JSON input"},
	} {
		_, err := parseFlags([]string{"-config", writeConfig(t, tt.json)}, io.Discard)
		if assert.Error(t, err, tt.json) {
			assert.Contains(t, err.Error(), tt.want, tt.json)
			assert.Contains(t, err.Error(), "-config: ", tt.json)
		}
	}
	_, err := parseFlags([]string{"-config", filepath.Join(t.TempDir(), "missing.json")}, io.Discard)
	assert.ErrorContains(t, err, "-config")
}

// TestFlagsKestrelMeanings reads -max-body as a literal size: 0 allows no
// body (Kestrel's 0), -1 sets no limit (Kestrel's null).
func TestFlagsKestrelMeanings(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int64
	}{
		{nil, 0},
		{[]string{"-max-body", "0"}, limits.NoBody},
		{[]string{"-max-body", "-1"}, limits.Unlimited},
		{[]string{"-max-body", "1"}, 1},
	} {
		st, err := parseFlags(tt.args, io.Discard)
		require.NoError(t, err, "%q", tt.args)
		assert.Equal(t, tt.want, st.cfg.Limits.MaxRequestBodySize, "%q", tt.args)
	}
	st, err := parseFlags([]string{"-max-upgraded", "-1", "-min-rate", "-1", "-min-rate-grace", "1s", "-allowed-hosts", "0.0.0.0"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, limits.NoUpgrades, st.cfg.Limits.MaxConcurrentUpgradedConnections)
	assert.True(t, st.cfg.Timeouts.MinRequestBodyDataRate.IsOff())
	assert.True(t, st.cfg.Timeouts.MinResponseDataRate.IsOff())
	assert.Equal(t, []string{"0.0.0.0"}, st.cfg.AllowedHosts)
}

// TestFlagsRefused gives each flag a value out of its range (and
// -allowed-hosts a list the filter refuses) and checks that the error names
// the flag.
func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-max-body", "-5"}, {"-max-body", "-2"}, {"-max-body", "1e3"},
		{"-max-conns", "-1"}, {"-max-upgraded", "-2"},
		{"-max-request-line", "-1"}, {"-max-headers-size", "-1"}, {"-max-header-count", "-1"},
		{"-min-rate", "0"}, {"-min-rate", "-5"}, {"-min-rate", "NaN"}, {"-min-rate", "Inf"}, {"-min-rate", "slow"},
		{"-min-rate-grace", "0s"}, {"-min-rate-grace", "-1s"},
		{"-keepalive", "-1s"}, {"-header-timeout", "-1s"},
		{"-rate", "-1"}, {"-rate", "NaN"}, {"-rate", "+Inf"},
		{"-burst", "-1"}, {"-max-concurrent", "-1"}, {"-queue", "-1"},
		{"-shutdown-timeout", "-1s"}, {"-drain-delay", "-1s"},
		{"-allowed-hosts", ""}, {"-allowed-hosts", "example.com:443"},
		{"-client-cert-mode", "sometimes"}, {"-client-cert-hosts", "api.example.com"},
		{"-tls-cert", "c.pem"}, {"-client-cert-mode", "require"},
	} {
		_, err := parseFlags(args, io.Discard)
		if assert.Error(t, err, "%q", args) {
			assert.Contains(t, err.Error(), args[0], "%q", args)
		}
	}
	// A flag's error wins over the file's values it overrides.
	path := writeConfig(t, `{"Kestrel": {"Limits": {"MaxRequestBodySize": 5}}}`)
	_, err := parseFlags([]string{"-config", path, "-max-body", "-5"}, io.Discard)
	assert.ErrorContains(t, err, "-max-body")
}
