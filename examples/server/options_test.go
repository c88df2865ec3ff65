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
	assert.Equal(t, int64(-1), o.maxBody, "null: no body limit, as in Kestrel")
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
