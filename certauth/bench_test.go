package certauth

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// benchCase is a request the per-request middleware sees again and again,
// its certificate's validation cached after the first.
type benchCase struct {
	name   string
	allocs float64 // at most, per request
	req    func() *http.Request
}

func benchCases(tb testing.TB) (*Policy, []benchCase) {
	k := newPKI(tb)
	_, alice := k.inter.issue(tb, certOpts{cn: "alice"})
	inters := x509.NewCertPool()
	inters.AddCert(k.inter.cert)
	p := newPolicy(tb, Config{
		ClientCAs:      k.root.pool(),
		Intermediates:  inters,
		TrustedProxies: []string{"192.0.2.1"},
		Hosts:          map[string]Mode{"api.example.com": RequireCertificate},
	})
	plain := httptest.NewRequest("GET", "/", nil)
	tlsReq := httptest.NewRequest("GET", "https://api.example.com/", nil)
	tlsReq.RemoteAddr = "198.51.100.7:4711"
	tlsReq.TLS = &tls.ConnectionState{ServerName: "api.example.com", PeerCertificates: []*x509.Certificate{alice, k.inter.cert}}
	forwarded := func(v string) func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.1:4711"
		r.Header.Set(DefaultForwardedHeader, v)
		return func() *http.Request { return r }
	}
	// An identity in the context takes the request and a context value:
	// two allocations, the price of r.WithContext.
	return p, []benchCase{
		{"no certificate", 0, func() *http.Request { return plain }},
		{"TLS certificate", 2, func() *http.Request { return tlsReq }},
		{"forwarded base64", 2, forwarded(b64DER(alice))},
		{"forwarded nginx", 2, forwarded(nginxEscaped(alice))},
	}
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func TestHandlerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	p, cases := benchCases(t)
	h := p.Handler(ok)
	for _, c := range cases {
		w := testserver.NewNopWriter()
		r := c.req()
		h.ServeHTTP(w, r) // validate once; the rest are cache hits
		allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
		if allocs > c.allocs {
			t.Errorf("%s: %.1f allocations per request, want at most %.0f", c.name, allocs, c.allocs)
		}
	}
	st := p.Stats()
	require.Zero(t, st.RejectedTotal())
	require.Equal(t, uint64(2), st.CacheMisses, "one validation per certificate and source")
	require.Equal(t, st.CacheHits+2, st.Accepted)
}

func BenchmarkHandler(b *testing.B) {
	p, cases := benchCases(b)
	h := p.Handler(ok)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := testserver.NewNopWriter()
			r := c.req()
			h.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
