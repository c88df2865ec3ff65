package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/timeouts"
)

func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
		"Limits": {
			"MaxConcurrentConnections": 100,
			"MaxRequestBodySize": 1000,
			"KeepAliveTimeout": "00:02:10",
			"RequestHeadersTimeout": "15s",
			"MinRequestBodyDataRate": {"BytesPerSecond": 100, "GracePeriod": "00:00:10"},
			"MinResponseDataRate": null,
			"MaxConcurrentUpgradedConnections": 0,
			"MaxRequestLineSize": 4096,
			"MaxRequestHeadersTotalSize": 16384
		},
		"AllowedHosts": "example.com;*.example.com",
		"ClientCertificateMode": "AllowCertificate",
		"Sni": {"api.example.com": {"ClientCertificateMode": "RequireCertificate"}},
		"RateLimiter": {"PermitsPerSecond": 5, "Burst": 10},
		"ConcurrencyLimiter": {"PermitLimit": 8, "QueueLimit": 16},
		"ShutdownTimeout": "1.00:00:00",
		"DrainDelay": "5s"
	}`), 0o600))

	o, err := parseFlags([]string{"-config", path, "-max-body", "2000"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 100, o.maxConns)
	assert.Equal(t, int64(2000), o.maxBody, "a flag overrides the file")
	assert.Equal(t, 130*time.Second, o.keepAlive)
	assert.Equal(t, 15*time.Second, o.headerTimeout)
	assert.Equal(t, timeouts.Rate{BytesPerSecond: 100, GracePeriod: 10 * time.Second}, o.bodyRate)
	assert.True(t, o.responseRate.IsOff(), "null switches a rate off, as in Kestrel")
	assert.Equal(t, limits.NoUpgrades, o.maxUpgraded, "Kestrel's 0 upgraded connections: none")
	assert.Equal(t, 4096, o.maxLine)
	assert.Equal(t, 16384, o.maxHeaderBytes)

	assert.Equal(t, "example.com;*.example.com", o.allowedHosts)
	assert.Equal(t, "AllowCertificate", o.clientCertMode)
	assert.Equal(t, "api.example.com=RequireCertificate", o.clientCertHosts)
	assert.Equal(t, 5.0, o.rate)
	assert.Equal(t, 10, o.burst)
	assert.Equal(t, 8, o.maxConcurrent)
	assert.Equal(t, 16, o.queue)
	assert.Equal(t, 24*time.Hour, o.shutdownTimeout)
	assert.Equal(t, 5*time.Second, o.drainDelay)
	_, err = parseMode(o.clientCertMode)
	assert.NoError(t, err)
	modes, err := parseHostModes(o.clientCertHosts)
	require.NoError(t, err)
	assert.Len(t, modes, 1)

	require.NoError(t, os.WriteFile(path, []byte(`{"Limits": {"MaxRequestBodySize": null, "MaxConcurrentUpgradedConnections": null, "MaxConcurrentConnections": null}}`), 0o600))
	o, err = parseFlags([]string{"-config", path}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, limits.Unlimited, o.maxBody, "null: no body limit, as in Kestrel")
	assert.Zero(t, o.maxUpgraded, "null: no upgrade limit")
	assert.Zero(t, o.maxConns)

	for _, bad := range []string{
		`{"Limits": {"MaxConcurrentConnectionz": 1}}`,
		`{"Limits": {"KeepAliveTimeout": "soon"}}`,
		`{"Limits": {"KeepAliveTimeout": "25:00:00"}}`,
		`{"Limits": {"KeepAliveTimeout": 130}}`,
	} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
		_, err := parseFlags([]string{"-config", path}, io.Discard)
		assert.Error(t, err, bad)
	}
	_, err = parseFlags([]string{"-config", filepath.Join(t.TempDir(), "missing.json")}, io.Discard)
	assert.ErrorContains(t, err, "-config")
}

// TestConfigFileKestrelMeanings reads the values whose meaning in Kestrel
// differs from the library's zero-means-default: a body limit of 0 allows no
// body, null none; a rate without GracePeriod gets Kestrel's 5 s; "[::]" and
// "0.0.0.0" are kept for the host filter, which reads them as "*".
func TestConfigFileKestrelMeanings(t *testing.T) {
	for _, tt := range []struct {
		json  string
		check func(t *testing.T, o options)
	}{
		{`{"Limits": {"MaxRequestBodySize": 0}}`, func(t *testing.T, o options) { assert.Equal(t, limits.NoBody, o.maxBody) }},
		{`{"Limits": {"MaxRequestBodySize": null}}`, func(t *testing.T, o options) { assert.Equal(t, limits.Unlimited, o.maxBody) }},
		{`{"Limits": {"MaxRequestBodySize": 1}}`, func(t *testing.T, o options) { assert.Equal(t, int64(1), o.maxBody) }},
		{`{}`, func(t *testing.T, o options) { assert.Zero(t, o.maxBody, "absent: Kestrel's default") }},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": 0.5}, "MinResponseDataRate": {"BytesPerSecond": 100, "GracePeriod": "00:00:00.5"}}}`, func(t *testing.T, o options) {
			assert.Equal(t, timeouts.Rate{BytesPerSecond: 0.5}, o.bodyRate, "GracePeriod left out: 5 s")
			assert.Equal(t, timeouts.Rate{BytesPerSecond: 100, GracePeriod: 500 * time.Millisecond}, o.responseRate)
		}},
		{`{"Limits": {"MinRequestBodyDataRate": null}}`, func(t *testing.T, o options) { assert.True(t, o.bodyRate.IsOff()) }},
		{`{"AllowedHosts": "[::]"}`, func(t *testing.T, o options) { assert.Equal(t, "[::]", o.allowedHosts) }},
		{`{"AllowedHosts": "0.0.0.0"}`, func(t *testing.T, o options) { assert.Equal(t, "0.0.0.0", o.allowedHosts) }},
	} {
		o, err := parseFlags([]string{"-config", writeConfig(t, tt.json)}, io.Discard)
		require.NoError(t, err, tt.json)
		tt.check(t, o)
	}
}

// TestConfigFileRefused gives settings Kestrel would refuse, or that would
// silently mean something else here, and checks that each is refused with
// its JSON path.
func TestConfigFileRefused(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"Limits": {"MaxRequestBodySize": -5}}`, "Limits.MaxRequestBodySize = -5 must not be negative"},
		{`{"Limits": {"MaxRequestBodySize": "big"}}`, "Limits.MaxRequestBodySize: got a JSON string, want int64"},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": 0}}}`, "Limits.MinRequestBodyDataRate.BytesPerSecond = 0 must be positive (to switch the rate off, make Limits.MinRequestBodyDataRate null)"},
		{`{"Limits": {"MinResponseDataRate": {"BytesPerSecond": 0, "GracePeriod": "00:00:05"}}}`, "Limits.MinResponseDataRate.BytesPerSecond = 0 must be positive"},
		{`{"Limits": {"MinResponseDataRate": {"BytesPerSecond": -1}}}`, "Limits.MinResponseDataRate.BytesPerSecond = -1 must be positive"},
		{`{"Limits": {"MinRequestBodyDataRate": {"GracePeriod": "00:00:05"}}}`, "Limits.MinRequestBodyDataRate.BytesPerSecond = (missing) must be given"},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": 240, "GracePeriod": "00:00:00"}}}`, "Limits.MinRequestBodyDataRate.GracePeriod = 0s must be positive"},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": 240, "GracePeriod": "soon"}}}`, `Limits.MinRequestBodyDataRate.GracePeriod: "soon" is neither`},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": "fast"}}}`, "Limits.MinRequestBodyDataRate.BytesPerSecond: got a JSON string"},
		{`{"Limits": {"MinRequestBodyDataRate": {"BytesPerSecond": 240, "Grace": "5s"}}}`, `Limits.MinRequestBodyDataRate: json: unknown field "Grace"`},
		{`{"Limits": {"MinResponseDataRate": 240}}`, "Limits.MinResponseDataRate: got a JSON number"},
		{`{"Limits": {"MaxConcurrentConnections": 0}}`, "Limits.MaxConcurrentConnections = 0 must be positive"},
		{`{"Limits": {"MaxConcurrentConnections": -1}}`, "Limits.MaxConcurrentConnections = -1 must be positive"},
		{`{"Limits": {"MaxConcurrentUpgradedConnections": -1}}`, "Limits.MaxConcurrentUpgradedConnections = -1 must not be negative"},
		{`{"Limits": {"MaxRequestLineSize": 0}}`, "Limits.MaxRequestLineSize = 0 must be positive"},
		{`{"Limits": {"MaxRequestHeadersTotalSize": -1}}`, "Limits.MaxRequestHeadersTotalSize = -1 must be positive"},
		{`{"Limits": {"MaxRequestHeaderCount": 0}}`, "Limits.MaxRequestHeaderCount = 0 must be positive"},
		{`{"Limits": {"MaxRequestHeaderCount": 1.5}}`, "Limits.MaxRequestHeaderCount: got a JSON number 1.5, want int"},
		{`{"Limits": {"KeepAliveTimeout": "soon"}}`, `Limits.KeepAliveTimeout: "soon" is neither`},
		{`{"Limits": {"KeepAliveTimeout": "25:00:00"}}`, `Limits.KeepAliveTimeout: "25:00:00" is neither`},
		{`{"Limits": {"KeepAliveTimeout": 130}}`, "Limits.KeepAliveTimeout: 130 is not a duration"},
		{`{"Limits": {"KeepAliveTimeout": "00:00:00"}}`, "Limits.KeepAliveTimeout = 0s must be positive"},
		{`{"Limits": {"RequestHeadersTimeout": "-5s"}}`, "Limits.RequestHeadersTimeout = -5s must be positive"},
		{`{"AllowedHosts": ""}`, `AllowedHosts "": windhover/hostfilter: Config.AllowedHosts is empty`},
		{`{"AllowedHosts": "example.com:443"}`, `AllowedHosts "example.com:443": windhover/hostfilter: Config.AllowedHosts[0] = "example.com:443" has a port`},
		{`{"RateLimiter": {"PermitsPerSecond": -1}}`, "RateLimiter.PermitsPerSecond = -1 must not be negative"},
		{`{"RateLimiter": {"PermitsPerSecond": 1, "Burst": -1}}`, "RateLimiter.Burst = -1 must not be negative"},
		{`{"ConcurrencyLimiter": {"PermitLimit": -1}}`, "ConcurrencyLimiter.PermitLimit = -1 must not be negative"},
		{`{"ConcurrencyLimiter": {"QueueLimit": -1}}`, "ConcurrencyLimiter.QueueLimit = -1 must not be negative"},
		{`{"ShutdownTimeout": "-1s"}`, "ShutdownTimeout = -1s must not be negative"},
		{`{"DrainDelay": "-00:00:01"}`, `DrainDelay: "-00:00:01" is neither`},
		{`{"ClientCertificateMode": "Sometimes"}`, `ClientCertificateMode = "Sometimes" is not NoCertificate`},
		{`{"Sni": {"api.example.com": {"ClientCertificateMode": "Sometimes"}}}`, `Sni.api.example.com.ClientCertificateMode = "Sometimes" is not`},
		{`{"Limits": {"MaxConcurrentConnectionz": 1}}`, `json: unknown field "MaxConcurrentConnectionz"`},
	} {
		_, err := parseFlags([]string{"-config", writeConfig(t, tt.json)}, io.Discard)
		if assert.Error(t, err, tt.json) {
			assert.Contains(t, err.Error(), tt.want, tt.json)
			assert.Contains(t, err.Error(), "-config ", tt.json)
		}
	}

	// Every wrong value is reported at once.
	_, err := parseFlags([]string{"-config", writeConfig(t, `{"Limits": {"MaxRequestBodySize": -1, "MinResponseDataRate": {"BytesPerSecond": 0}}}`)}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Limits.MaxRequestBodySize")
	assert.Contains(t, err.Error(), "Limits.MinResponseDataRate.BytesPerSecond")
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
		o, err := parseFlags(tt.args, io.Discard)
		require.NoError(t, err, "%q", tt.args)
		assert.Equal(t, tt.want, o.maxBody, "%q", tt.args)
	}
	o, err := parseFlags([]string{"-max-upgraded", "-1", "-min-rate", "-1", "-allowed-hosts", "0.0.0.0"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, limits.NoUpgrades, o.maxUpgraded)
	assert.True(t, o.bodyRate.IsOff())
	assert.True(t, o.responseRate.IsOff())
}

// TestFlagsRefused gives each numeric flag a value out of its range (and
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
	} {
		_, err := parseFlags(args, io.Discard)
		if assert.Error(t, err, "%q", args) {
			assert.Contains(t, err.Error(), args[0], "%q", args)
		}
	}
	// A flag's error wins over the file's values it overrides.
	path := writeConfig(t, `{"Limits": {"MaxRequestBodySize": 5}}`)
	_, err := parseFlags([]string{"-config", path, "-max-body", "-5"}, io.Discard)
	assert.ErrorContains(t, err, "-max-body")
}

func writeConfig(t *testing.T, json string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.json")
	require.NoError(t, os.WriteFile(path, []byte(json), 0o600))
	return path
}

func TestParseTimeSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00:05":       5 * time.Second,
		"00:02:10":       130 * time.Second,
		"1.02:03:04":     26*time.Hour + 3*time.Minute + 4*time.Second,
		"00:00:00.25":    250 * time.Millisecond,
		"23:59:59.99999": 24*time.Hour - 10*time.Microsecond,
		"36500.00:00:00": 36500 * 24 * time.Hour,
	} {
		got, err := parseTimeSpan(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "5", "36501.00:00:00", "2147483647.00:00:00", "00:60:00", "24:00:00", "-1.00:00:00", "a:b:c", "00:00"} {
		_, err := parseTimeSpan(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseTimeSpan(f *testing.F) {
	for _, s := range []string{"00:00:05", "1.02:03:04", "00:00:00.25", "24:00:00", "1.:::", "9999999999.23:59:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseTimeSpan(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q gave the negative %v", s, d)
		}
	})
}
