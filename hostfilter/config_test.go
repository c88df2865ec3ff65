package hostfilter

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAllowedHosts(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{";;", nil},
		{" ; \t;", nil},
		{"*", []string{"*"}},
		{"example.com", []string{"example.com"}},
		{"a.example.com;*.example.com", []string{"a.example.com", "*.example.com"}},
		{" a.example.com ; ;b.example.com; ", []string{"a.example.com", "b.example.com"}},
		{"[::1];10.0.0.0/8", []string{"[::1]", "10.0.0.0/8"}},
	} {
		assert.Equal(t, tt.want, ParseAllowedHosts(tt.in), "%q", tt.in)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		hosts []string
		want  string
	}{
		{nil, `windhover/hostfilter: Config.AllowedHosts is empty: no allowed hosts configured (use "*" to allow any host)`},
		{[]string{}, "no allowed hosts configured"},
		{[]string{"example.com", "  "}, `Config.AllowedHosts[1] = "  " is empty`},
		{[]string{"example.com:80"}, `Config.AllowedHosts[0] = "example.com:80" has a port; the request's port is ignored`},
		{[]string{"*.example.com:443"}, "has a port"},
		{[]string{"[::1]:80"}, `"[::1]:80" has a port`},
		{[]string{"127.0.0.1:80"}, "has a port"},
		{[]string{"[::1]x"}, "has text after ']'"},
		{[]string{"[::1"}, "lacks the closing ']'"},
		{[]string{"[127.0.0.1]"}, "is not a valid bracketed IPv6 address"},
		{[]string{"[fe80::1%eth0]"}, "has an IPv6 zone"},
		{[]string{"fe80::1%eth0"}, "has an IPv6 zone"},
		{[]string{"1:2:3"}, "is not a valid IPv6 address"},
		{[]string{"https://example.com"}, "has a scheme"},
		{[]string{"example.com/path"}, "is neither a host nor a valid CIDR prefix"},
		{[]string{"10.0.0.1/8"}, "has host bits set (did you mean 10.0.0.0/8?)"},
		{[]string{"10.0.0.0/33"}, "is neither a host nor a valid CIDR prefix"},
		{[]string{"**"}, `may use "*" only alone or as the whole first label`},
		{[]string{"*example.com"}, `may use "*" only`},
		{[]string{"a.*.example.com"}, `may use "*" only`},
		{[]string{"*.*.example.com"}, `may use "*" only`},
		{[]string{"*."}, "is not a valid host name"},
		{[]string{"."}, "is not a valid host name"},
		{[]string{"example..com"}, "is not a valid host name"},
		{[]string{".example.com"}, "is not a valid host name"},
		{[]string{"example.com.."}, "is not a valid host name"},
		{[]string{"exa mple.com"}, "is not a valid host name"},
		{[]string{"ex%61mple.com"}, "is not a valid host name"},
		{[]string{strings.Repeat("a", 64) + ".com"}, "is not a valid host name"},
		{[]string{"xn--zz.example"}, `is not a valid host name: invalid label "zz"`},
		{[]string{"10.0.0"}, "ends in a number but is not a valid IPv4 address"},
		{[]string{"010.0.0.1"}, "ends in a number but is not a valid IPv4 address"},
		{[]string{"example.123"}, "ends in a number"},
		{[]string{"*.10.0.0.1"}, "puts a wildcard before an IP address or a numeric label"},
	} {
		_, err := New(Config{AllowedHosts: tt.hosts})
		if assert.Error(t, err, "%q", tt.hosts) {
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "windhover/hostfilter: Config.AllowedHosts"), err.Error())
		}
	}
}

func TestNewAccepts(t *testing.T) {
	for _, p := range []string{
		"*", " example.com ", "EXAMPLE.COM", "example.com.", "*.example.com", "*.com", "localhost",
		"under_score.example", "r3---sn-abc.example", "bücher.example", "*.bücher.example",
		"ｅｘａｍｐｌｅ。ｃｏｍ", "１０.０.０.１", "127.0.0.1", "[::1]", "::1", "[::ffff:10.0.0.1]", "10.0.0.0/8",
		"fd00::/8", "::ffff:10.0.0.0/104", "0.0.0.0/0", "::/0",
	} {
		_, err := New(Config{AllowedHosts: []string{p}})
		assert.NoError(t, err, "%q", p)
	}
}

func TestNormalisedPatterns(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		allows  []string
	}{
		{"ｅｘａｍｐｌｅ。ｃｏｍ", []string{"example.com"}},
		{"BÜCHER.Example.", []string{"xn--bcher-kva.example"}},
		{"１０.０.０.１", []string{"10.0.0.1"}},
		{"::1", []string{"[::1]"}},
		{"[::ffff:10.0.0.1]", []string{"10.0.0.1", "[::ffff:a00:1]"}},
		{"::ffff:10.0.0.0/104", []string{"10.1.2.3", "[::ffff:10.1.2.3]"}},
	} {
		f := Allow(tt.pattern)
		for _, h := range tt.allows {
			assert.True(t, f.Allows(h), "%q allows %q", tt.pattern, h)
		}
	}
}

func TestAllowPanics(t *testing.T) {
	assert.PanicsWithValue(t, "hostfilter: Allow needs at least one pattern", func() { Allow() })
	assert.PanicsWithValue(t, `hostfilter: Allow pattern 2 = "example.com:80" has a port; the request's port is ignored, so give the host alone`,
		func() { Allow("example.com", "example.com:80") })
	assert.NotPanics(t, func() { Allow("example.com", "*.example.com") })
}

func TestReasonAndError(t *testing.T) {
	assert.Equal(t, "empty_host", ReasonEmptyHost.String())
	assert.Equal(t, "malformed_host", ReasonMalformedHost.String())
	assert.Equal(t, "host_not_allowed", ReasonHostNotAllowed.String())
	assert.Equal(t, "reason_9", Reason(9).String())
	assert.Equal(t, "windhover/hostfilter: reason_9", (&Error{Reason: 9}).Error())

	err := error(&Error{Reason: ReasonHostNotAllowed, Host: "evil.example\n"})
	assert.Equal(t, `windhover/hostfilter: host not allowed "evil.example\n"`, err.Error())
	assert.ErrorIs(t, err, ErrHostNotAllowed)
	assert.NotErrorIs(t, err, ErrMalformedHost)
	assert.Equal(t, "windhover/hostfilter: empty host", (&Error{Reason: ReasonEmptyHost}).Error())

	long := &Error{Reason: ReasonMalformedHost, Host: strings.Repeat("x", 1000)}
	assert.Equal(t, `windhover/hostfilter: malformed host "`+strings.Repeat("x", 256)+`"... (1000 bytes)`, long.Error())
}

func TestCheck(t *testing.T) {
	var reported []error
	f, err := New(Config{
		AllowedHosts:    []string{"example.com"},
		RejectEmptyHost: true,
		OnReject:        func(r *http.Request, err error) { reported = append(reported, err) },
	})
	require.NoError(t, err)
	require.NoError(t, f.Check(requestTo("example.com:80")))
	for _, tt := range []struct {
		host   string
		reason Reason
		is     error
	}{
		{"", ReasonEmptyHost, ErrEmptyHost},
		{"x..example.com", ReasonMalformedHost, ErrMalformedHost},
		{"evil.example", ReasonHostNotAllowed, ErrHostNotAllowed},
	} {
		err := f.Check(requestTo(tt.host))
		var e *Error
		require.True(t, errors.As(err, &e), "%q: %v", tt.host, err)
		assert.Equal(t, tt.reason, e.Reason)
		assert.Equal(t, tt.host, e.Host)
		assert.ErrorIs(t, err, tt.is)
	}
	assert.Len(t, reported, 3)
	assert.Equal(t, Stats{Allowed: 1, Rejected: [NumReasons]uint64{1, 1, 1}}, f.Stats())
	assert.Equal(t, uint64(3), f.Stats().RejectedTotal())
	assert.False(t, f.Allows(""))
	assert.Equal(t, uint64(3), f.Stats().RejectedTotal(), "Allows counts nothing")
}

// TestEveryNamedHost judges requests that name hosts in r.Host, r.URL.Host
// and Host fields, as net/http's HTTP/2 server makes them.
func TestEveryNamedHost(t *testing.T) {
	f := Allow("example.com", "*.example.com", "10.0.0.0/8", "[::1]")
	for _, tt := range []struct {
		name          string
		host, urlHost string
		fields        []string
		reason        Reason // accepted: passes
		refused       string
	}{
		{"Host field, same host", "example.com", "", []string{"EXAMPLE.com"}, accepted, ""},
		{"Host field, same host, port and dot", "example.com", "", []string{"Example.COM.:443"}, accepted, ""},
		{"Host field, other allowed host", "example.com", "", []string{"www.example.com:443"}, ReasonHostMismatch, "www.example.com:443"},
		{"Host field, not allowed", "example.com", "", []string{"evil.example"}, ReasonHostNotAllowed, "evil.example"},
		{"Host field, malformed", "example.com", "", []string{"x..example.com"}, ReasonMalformedHost, "x..example.com"},
		{"second Host field differs", "example.com", "", []string{"example.com", "www.example.com"}, ReasonHostMismatch, "www.example.com"},
		{"empty Host field", "example.com", "", []string{""}, accepted, ""},
		{"URL host, same", "example.com", "EXAMPLE.COM:8443", nil, accepted, ""},
		{"URL host, not allowed", "example.com", "evil.example", nil, ReasonHostNotAllowed, "evil.example"},
		{"URL host, other allowed host", "example.com", "a.example.com", nil, ReasonHostMismatch, "a.example.com"},
		{"URL host alone", "", "a.example.com", nil, accepted, ""},
		{"URL host alone, then a Host field", "", "a.example.com", []string{"b.example.com"}, ReasonHostMismatch, "b.example.com"},
		{"addresses", "10.1.2.3", "[::ffff:10.1.2.3]:80", []string{"10.1.2.3."}, accepted, ""},
		{"IPv6 spelled two ways", "[::1]", "[0:0::1]:443", nil, accepted, ""},
		{"different addresses", "10.1.2.3", "10.1.2.4", nil, ReasonHostMismatch, "10.1.2.4"},
		{"an address and a name", "10.1.2.3", "example.com", nil, ReasonHostMismatch, "example.com"},
	} {
		r := requestTo(tt.host)
		r.URL.Host = tt.urlHost
		if tt.fields != nil {
			r.Header["Host"] = tt.fields
		}
		err := f.Check(r)
		if tt.reason == accepted {
			assert.NoError(t, err, tt.name)
			continue
		}
		var e *Error
		if assert.ErrorAs(t, err, &e, tt.name) {
			assert.Equal(t, tt.reason, e.Reason, tt.name)
			assert.Equal(t, tt.refused, e.Host, tt.name)
		}
	}
	strict, err := New(Config{AllowedHosts: []string{"*"}, RejectEmptyHost: true})
	require.NoError(t, err)
	r := requestTo("example.com")
	r.Header["Host"] = []string{""}
	assert.ErrorIs(t, strict.Check(r), ErrEmptyHost, "an empty Host field beside :authority, with RejectEmptyHost")
	r = requestTo("example.com")
	r.URL = nil
	assert.NoError(t, f.Check(r), "a request made by hand, without a URL")
}
