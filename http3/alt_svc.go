package http3

import "net/http"

// altSvc advertises HTTP/3 on the responses to requests that came over
// TLS on TCP, once the Server listens. It does not wrap the ResponseWriter.
type altSvc struct {
	next http.Handler
	h    *Server
}

func (a *altSvc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS != nil && r.ProtoMajor < 3 {
		if v := a.h.alt.Load(); v != nil && *v != "" {
			w.Header()["Alt-Svc"] = []string{*v}
		}
	}
	a.next.ServeHTTP(w, r)
}
