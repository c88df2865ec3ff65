package peer

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	s, err := Parse([]string{"10.0.0.0/8", " 192.0.2.1 ", "fd00::/8", "::ffff:198.51.100.0/120", "unix"})
	require.NoError(t, err)
	assert.True(t, s.unix)
	assert.False(t, s.IsZero())
	for addr, want := range map[string]bool{
		"10.1.2.3":          true,
		"11.0.0.1":          false,
		"192.0.2.1":         true,
		"192.0.2.2":         false,
		"::ffff:192.0.2.1":  true, // mapped addresses are their IPv4 selves
		"fd12::1":           true,
		"fe80::1":           false,
		"198.51.100.7":      true,
		"::ffff:10.9.9.9":   true,
		"2001:db8::1":       false,
		"198.51.101.1":      false,
		"::ffff:198.51.100": false, // not an address at all
	} {
		a, _ := netip.ParseAddr(addr)
		assert.Equal(t, want, s.Contains(a), addr)
	}

	for _, bad := range []string{"", "10.0.0.1/8", "10.0.0.0/33", "example.com", "fe80::1%eth0", "10.0.0"} {
		_, err := Parse([]string{bad})
		assert.Error(t, err, bad)
	}
	var zero Set
	assert.True(t, zero.IsZero())
	assert.False(t, zero.Contains(netip.MustParseAddr("127.0.0.1")))
}

func TestTrusts(t *testing.T) {
	s, err := Parse([]string{"127.0.0.0/8"})
	require.NoError(t, err)
	withUnix, err := Parse([]string{"unix"})
	require.NoError(t, err)

	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	assert.True(t, s.Trusts(r))
	r.RemoteAddr = "[::ffff:127.0.0.1]:5555"
	assert.True(t, s.Trusts(r))
	r.RemoteAddr = "192.0.2.1:5555"
	assert.False(t, s.Trusts(r))
	r.RemoteAddr = "garbage"
	assert.False(t, s.Trusts(r))

	unix := r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}))
	unix.RemoteAddr = "@"
	assert.True(t, IsUnix(unix))
	assert.True(t, withUnix.Trusts(unix))
	assert.False(t, s.Trusts(unix), "an IP set does not trust socket peers")
	assert.False(t, withUnix.Trusts(r))

	// Peer gives what Trusts decides from.
	r.RemoteAddr = "[::ffff:127.0.0.1]:5555"
	a, isUnix, trusted := s.Peer(r)
	assert.Equal(t, netip.MustParseAddr("127.0.0.1"), a)
	assert.False(t, isUnix)
	assert.True(t, trusted)
	unix.RemoteAddr = "127.0.0.1:5555" // a socket path the client chose
	a, isUnix, trusted = withUnix.Peer(unix)
	assert.False(t, a.IsValid(), "a Unix peer's RemoteAddr is not an address")
	assert.True(t, isUnix)
	assert.True(t, trusted)
	_, _, trusted = s.Peer(unix)
	assert.False(t, trusted)
	r.RemoteAddr = "garbage"
	a, isUnix, trusted = s.Peer(r)
	assert.False(t, a.IsValid() || isUnix || trusted)
}

func TestRemoteAddr(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for in, want := range map[string]string{
		"192.0.2.1:80":           "192.0.2.1",
		"[::1]:80":               "::1",
		"[fe80::1%eth0]:80":      "fe80::1",
		"[::ffff:192.0.2.9]:443": "192.0.2.9",
		"192.0.2.3":              "192.0.2.3",
	} {
		r.RemoteAddr = in
		a, ok := RemoteAddr(r)
		require.True(t, ok, in)
		assert.Equal(t, want, a.String(), in)
	}
	r.RemoteAddr = ""
	_, ok := RemoteAddr(r)
	assert.False(t, ok)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "unix", "::ffff:1.2.3.0/120", "1.2.3.4/32", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		s, err := Parse([]string{entry})
		if err != nil {
			return
		}
		// Whatever parsed must at least hold the address it names.
		if p, err := netip.ParsePrefix(entry); err == nil {
			assert.True(t, s.Contains(p.Addr()), entry)
		} else if a, err := netip.ParseAddr(entry); err == nil {
			assert.True(t, s.Contains(a), entry)
		}
	})
}

// FuzzRemoteAddr: the IPv4 fast path accepts only what netip.ParseAddrPort
// accepts, and reads the same address from it.
func FuzzRemoteAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "127.0.0.1:65535", "127.0.0.1:65536", "01.2.3.4:5", "1.2.3.4:", "1.2.3.4:080",
		"256.1.1.1:1", "1.2.3:4", "1.2.3.4.5:6", "[::1]:80", "1.2.3.4", "0.0.0.0:0", "1.2.3.4:123456", "1.2.3.4:+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ipv4Port(s)
		ap, err := netip.ParseAddrPort(s)
		if ok {
			require.NoError(t, err, "the fast path took %q, which netip refuses", s)
			assert.Equal(t, ap.Addr().Unmap().WithZone(""), a, s)
		}
		if err == nil && ap.Addr().Is4() && !ok {
			// Only what net/http does not write may fall through.
			assert.NotEqual(t, ap.String(), s, "the fast path missed %q", s)
		}
	})
}

func BenchmarkRemoteAddr(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, addr := range []string{"192.0.2.1:54321", "[2001:db8::1]:54321"} {
		r.RemoteAddr = addr
		b.Run(addr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				RemoteAddr(r)
			}
		})
	}
}
