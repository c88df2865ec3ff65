// Package reqbody tells the policies whether a request has body bytes to
// police.
package reqbody

import "net/http"

// None reports whether no body bytes can be read from r: it has no Body,
// http.NoBody, or it came over HTTP/2 with a ContentLength of 0.
//
// net/http's HTTP/2 server gives every request a Body, a GET's whose
// HEADERS frame ended the stream included, and sets ContentLength to 0 for
// it; it also makes the declared length the most a stream may send (a DATA
// frame past it is a stream error, which the Body's Read returns), so a
// ContentLength of 0 there means no byte will come. A policy that wraps the
// Body (a copy of the request, a counting reader) need not wrap such a
// request's. HTTP/1 requests without a body already have http.NoBody;
// HTTP/3's ContentLength is not relied upon.
func None(r *http.Request) bool {
	return r.Body == nil || r.Body == http.NoBody || r.ProtoMajor == 2 && r.ContentLength == 0
}
