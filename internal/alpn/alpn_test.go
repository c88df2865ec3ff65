package alpn

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAdjust(t *testing.T) {
	assert.Equal(t, []string{"h2", "http/1.1"}, Adjust(nil, true, true))
	assert.Equal(t, []string{"acme-tls/1", "http/1.1"}, Adjust([]string{"h2", "acme-tls/1"}, true, false))
	assert.Equal(t, []string{"h2"}, Adjust([]string{"http/1.1", "h2"}, false, true))
	in := []string{"h2", "http/1.1"}
	assert.Equal(t, []string{"http/1.1"}, Adjust(in, true, false))
	assert.Equal(t, []string{"h2", "http/1.1"}, in, "the caller's slice is left alone")
}

// TestServed asks net/http itself: HTTP/2 counts only once the server has
// set it up, which ServeTLS does.
func TestServed(t *testing.T) {
	h2Handler := map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": nil}
	h2Handler["h2"] = func(*http.Server, *tls.Conn, http.Handler) {}
	only := func(set func(*http.Protocols)) *http.Protocols {
		p := new(http.Protocols)
		set(p)
		return p
	}
	for _, tc := range []struct {
		name   string
		srv    *http.Server
		h1, h2 bool
	}{
		{"not set up", &http.Server{}, true, false},
		{"set up", &http.Server{TLSNextProto: h2Handler}, true, true},
		{"HTTP/2 off by TLSNextProto", &http.Server{TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}, true, false},
		{"empty Protocols: HTTP/1", &http.Server{Protocols: new(http.Protocols), TLSNextProto: h2Handler}, true, false},
		{"HTTP/2 only", &http.Server{Protocols: only(func(p *http.Protocols) { p.SetHTTP2(true) }), TLSNextProto: h2Handler}, false, true},
		{"HTTP/1 only", &http.Server{Protocols: only(func(p *http.Protocols) { p.SetHTTP1(true) }), TLSNextProto: h2Handler}, true, false},
	} {
		h1, h2 := Served(tc.srv)
		assert.Equal(t, [2]bool{tc.h1, tc.h2}, [2]bool{h1, h2}, tc.name)
	}
}
