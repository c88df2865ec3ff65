package limits

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// request returns a request from remoteAddr with the given header fields, as
// net/http would hand it over from a TCP connection, or from a Unix socket
// if remoteAddr is "@".
func request(remoteAddr string, header ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remoteAddr
	var local net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}
	if remoteAddr == "@" {
		local = &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}
	}
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestClientKey(t *testing.T) {
	const xff, fwd = "X-Forwarded-For", "Forwarded"
	proxies := []string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48"}
	longChain := strings.Repeat("10.9.9.9, ", 40) + "10.0.0.2"
	for _, tt := range []struct {
		name    string
		cfg     RateConfig
		r       *http.Request
		want    string
		wantMem memKey
	}{
		{"peer", RateConfig{}, request("203.0.113.7:5555"), "203.0.113.7", memKey{}},
		{"peer IPv6 /64", RateConfig{}, request("[2001:db8:1:2:3:4:5:6]:5555"), "2001:db8:1:2::/64", memKey{}},
		{"peer IPv4-mapped", RateConfig{}, request("[::ffff:203.0.113.7]:5555"), "203.0.113.7", memKey{}},
		{"peer with zone", RateConfig{}, request("[fe80::1%eth0]:5555"), "fe80::/64", memKey{}},
		{"peer /24", RateConfig{IPv4PrefixLen: 24}, request("203.0.113.7:1"), "203.0.113.0/24", memKey{}},
		{"peer /48", RateConfig{IPv6PrefixLen: 48}, request("[2001:db8:1:2::1]:1"), "2001:db8:1::/48", memKey{}},
		{"peer /128", RateConfig{IPv6PrefixLen: 128}, request("[2001:db8:1:2::1]:1"), "2001:db8:1:2::1", memKey{}},
		{"unparsable RemoteAddr", RateConfig{}, request("pipe"), "unknown", memKey{s: "unknown"}},
		{"RemoteAddr without port", RateConfig{}, request("203.0.113.7"), "203.0.113.7", memKey{}},

		{"untrusted peer: header ignored", RateConfig{TrustedProxies: proxies},
			request("203.0.113.7:1", xff, "198.51.100.1"), "203.0.113.7", memKey{}},
		{"no proxies: header ignored", RateConfig{},
			request("10.0.0.1:1", xff, "198.51.100.1"), "10.0.0.1", memKey{}},
		{"trusted peer", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "198.51.100.1"), "198.51.100.1", memKey{}},
		{"trusted peer, no header", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1"), "10.0.0.1", memKey{}},
		{"client's own header is left of the proxy's", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "1.1.1.1, 198.51.100.1"), "198.51.100.1", memKey{}},
		{"through two trusted proxies", RateConfig{TrustedProxies: proxies},
			request("192.0.2.1:1", xff, "1.1.1.1, 198.51.100.1, 10.0.0.2"), "198.51.100.1", memKey{}},
		{"every hop trusted", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "10.0.0.3, 10.0.0.2"), "10.0.0.3", memKey{}},
		{"malformed rightmost: the peer", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "198.51.100.1, garbage"), "10.0.0.1", memKey{}},
		{"malformed after a trusted hop: that hop", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "198.51.100.1, unknown, 10.0.0.2"), "10.0.0.2", memKey{}},
		{"several lines", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "1.1.1.1, 10.0.0.5", xff, "198.51.100.9"), "198.51.100.9", memKey{}},
		{"with port, IPv6 grouped", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "[2001:db8:5:6:7::1]:443"), "2001:db8:5:6::/64", memKey{}},
		{"trusted IPv6 proxy", RateConfig{TrustedProxies: proxies},
			request("[2001:db8:ffff:1::1]:1", xff, "203.0.113.7"), "203.0.113.7", memKey{}},
		{"trusted hops bounded", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", xff, "198.51.100.1, "+longChain), "10.9.9.9", memKey{}},
		{"Forwarded", RateConfig{TrustedProxies: proxies, ForwardedHeader: HeaderForwarded},
			request("10.0.0.1:1", fwd, `for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https`), "2001:db8:cafe::/64", memKey{}},
		{"Forwarded unknown", RateConfig{TrustedProxies: proxies, ForwardedHeader: HeaderForwarded},
			request("10.0.0.1:1", fwd, `for=1.1.1.1, for=unknown`), "10.0.0.1", memKey{}},
		{"Forwarded configured, X-Forwarded-For sent", RateConfig{TrustedProxies: proxies, ForwardedHeader: HeaderForwarded},
			request("10.0.0.1:1", xff, "198.51.100.1"), "10.0.0.1", memKey{}},
		{"X-Forwarded-For configured, Forwarded sent", RateConfig{TrustedProxies: proxies},
			request("10.0.0.1:1", fwd, "for=198.51.100.1"), "10.0.0.1", memKey{}},

		{"Unix socket", RateConfig{}, request("@", xff, "198.51.100.1"), "unix", memKey{s: "unix"}},
		{"Unix socket, IP proxies trusted", RateConfig{TrustedProxies: proxies}, request("@", xff, "198.51.100.1"), "unix", memKey{s: "unix"}},
		{"Unix socket trusted", RateConfig{TrustedProxies: []string{"unix"}}, request("@", xff, "198.51.100.1"), "198.51.100.1", memKey{}},
		{"Unix socket trusted, no header", RateConfig{TrustedProxies: []string{"unix"}}, request("@"), "unix", memKey{s: "unix"}},
		{"Unix socket trusted, malformed", RateConfig{TrustedProxies: []string{"unix"}}, request("@", xff, "x"), "unix", memKey{s: "unix"}},
		{"TCP peer with unix trusted", RateConfig{TrustedProxies: []string{"unix"}}, request("10.0.0.1:1", xff, "198.51.100.1"), "10.0.0.1", memKey{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Rate = 1
			lim, err := NewRateLimiter(tt.cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.want, lim.ClientKey(tt.r))
			want := tt.wantMem
			if want == (memKey{}) {
				want = memKey{addr: keyAddr(tt.want)}
			}
			assert.Equal(t, want, lim.client.memKey(tt.r))
		})
	}
}

// keyAddr returns the address of a key in CIDR or address notation.
func keyAddr(s string) netip.Addr {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr()
	}
	return netip.MustParseAddr(s)
}

func TestClientKeyAllocations(t *testing.T) {
	lim, err := NewRateLimiter(RateConfig{Rate: 1, TrustedProxies: []string{"10.0.0.0/8"}})
	require.NoError(t, err)
	for _, r := range []*http.Request{
		request("203.0.113.7:5555"),
		request("[2001:db8:1:2:3:4:5:6]:5555"),
		request("10.0.0.1:1", "X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.0.0.2"),
		request("@"),
	} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { lim.client.memKey(r) }), r.RemoteAddr)
	}
}

// TestClientKeySpoofedOverSockets sends X-Forwarded-For from the client
// itself: believed only where its address is a trusted proxy.
func TestClientKeySpoofedOverSockets(t *testing.T) {
	for _, p := range allProtos {
		for _, trusted := range []bool{false, true} {
			t.Run(string(p)+"/trusted="+strconv.FormatBool(trusted), func(t *testing.T) {
				cfg := RateConfig{Rate: 0.001, Burst: 1}
				if trusted {
					cfg.TrustedProxies = []string{"127.0.0.1"}
				}
				lim, err := NewRateLimiter(cfg)
				require.NoError(t, err)
				s := startServer(t, lim.Handler(hello), p)
				var codes []int
				for i := range 3 {
					code, _ := s.Get(t, "/", http.Header{"X-Forwarded-For": {"198.51.100." + strconv.Itoa(i)}})
					codes = append(codes, code)
				}
				if trusted {
					assert.Equal(t, []int{200, 200, 200}, codes, "one bucket per forwarded address")
					assert.Equal(t, 3, lim.Stats().Keys)
				} else {
					assert.Equal(t, []int{200, 429, 429}, codes, "one bucket for 127.0.0.1, whatever it claims")
					assert.Equal(t, 1, lim.Stats().Keys)
				}
			})
		}
	}
}
