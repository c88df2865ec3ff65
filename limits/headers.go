package limits

import "net/http"

// Header field names net/http takes out of Request.Header while parsing an
// HTTP/1 request, which the wire carried and Kestrel counts.
const (
	hostField             = "Host"
	transferEncodingField = "Transfer-Encoding"
	trailerField          = "Trailer"
	fieldOverhead         = len(": ") + len("\r\n")
)

// requestLineSize returns the size of r's request line as Kestrel counts it.
//
// HTTP/1: method, target and version with the two spaces between them,
// without the CRLF. net/http keeps all three exactly as received (it rejects
// a line with any other spacing), so the count is exact.
//
// HTTP/2 has no request line; as Kestrel does, the sizes of the :method,
// :scheme, :authority and :path pseudo-header values stand for it.
func requestLineSize(r *http.Request) int {
	if r.ProtoMajor != 2 {
		return len(r.Method) + len(r.RequestURI) + len(r.Proto) + 2
	}
	if r.Method == http.MethodConnect && r.Header[":protocol"] == nil {
		// A plain CONNECT has only :method and :authority; net/http uses
		// the authority as RequestURI too.
		return len(r.Method) + len(r.Host)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return len(r.Method) + len(scheme) + len(r.Host) + len(r.RequestURI)
}

// headerFootprint returns the number of r's header field lines and their
// size, each counted as name, ": ", value and CRLF.
//
// For HTTP/1 it adds back the fields net/http moved out of Request.Header:
// Host (into Request.Host), Transfer-Encoding (into TransferEncoding) and
// Trailer (into the keys of Request.Trailer, whose original spelling is
// rebuilt as a ", "-separated list). It subtracts the "Cache-Control:
// no-cache" that net/http invents for a request with "Pragma: no-cache" and no
// Cache-Control. The count can err in three places, each in the client's
// favour: a client that sent both of those fields is counted one field short;
// net/http merges repeated identical Content-Length fields into one, and joins
// an obsolete folded line to the field before it (RFC 9112, section 5.2).
//
// For HTTP/2 the pseudo-header fields belong to the request line; the
// :protocol of an extended CONNECT, which net/http leaves in the header map,
// is skipped likewise.
func headerFootprint(r *http.Request) (count, size int) {
	var pragmaNoCache, cacheControlNoCache bool
	for name, values := range r.Header {
		if len(name) > 0 && name[0] == ':' {
			continue
		}
		for _, v := range values {
			count++
			size += len(name) + len(v) + fieldOverhead
		}
		switch name {
		case "Pragma":
			pragmaNoCache = len(values) > 0 && values[0] == "no-cache"
		case "Cache-Control":
			cacheControlNoCache = len(values) == 1 && values[0] == "no-cache"
		}
	}
	if r.ProtoMajor == 2 {
		return count, size
	}
	if r.Host != "" {
		count++
		size += len(hostField) + len(r.Host) + fieldOverhead
	}
	for _, te := range r.TransferEncoding {
		count++
		size += len(transferEncodingField) + len(te) + fieldOverhead
	}
	if len(r.Trailer) > 0 {
		count++
		size += len(trailerField) + fieldOverhead
		sep := 0
		for name := range r.Trailer {
			size += sep + len(name)
			sep = len(", ")
		}
	}
	if pragmaNoCache && cacheControlNoCache {
		count--
		size -= len("Cache-Control") + len("no-cache") + fieldOverhead
	}
	return count, size
}

// checkHead measures r's request line and header fields against the limits.
func (l *Limiter) checkHead(r *http.Request) *Error {
	s := &l.s
	if s.lineSize >= 0 {
		if n := requestLineSize(r); n > s.lineSize {
			return &Error{Reason: ReasonRequestLineTooLong, Limit: int64(s.lineSize), Size: int64(n)}
		}
	}
	if s.headerCount < 0 && s.headersSize < 0 {
		return nil
	}
	count, size := headerFootprint(r)
	if s.headerCount >= 0 && count > s.headerCount {
		return &Error{Reason: ReasonTooManyHeaders, Limit: int64(s.headerCount), Size: int64(count)}
	}
	if s.headersSize >= 0 && size > s.headersSize {
		return &Error{Reason: ReasonHeadersTooLarge, Limit: int64(s.headersSize), Size: int64(size)}
	}
	return nil
}
