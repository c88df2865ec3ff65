package hostfilter

import (
	"io"
	"net/http"
	"net/http/httptest"
)

// requestTo returns a GET request whose Host is host.
func requestTo(host string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = host
	return r
}

// hello answers "hello\n".
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello\n")
})
