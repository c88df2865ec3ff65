package limits

import (
	"net/http"
	"strings"
)

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
// and the CRLF. net/http keeps all three exactly as received (it rejects a
// line with any other spacing), but not the line's end, which is counted as
// the CRLF clients send: a line that ended with a bare LF, which Kestrel
// refuses, is counted a byte long. The connections of [Limiter.Listener]
// count the line on the wire instead, as sent.
//
// HTTP/2 and HTTP/3 have no request line; as Kestrel does (Http2Stream's
// TryValidatePseudoHeaders), the lengths of the :method, :scheme, :authority
// and :path values stand for it, the authority being the Host field's value
// when there is no :authority, as in Request.Host, and the scheme the
// connection's (see [h2SchemeLen]). Kestrel leaves a CONNECT and an
// "OPTIONS *" unchecked; here a plain CONNECT counts its method and
// authority, and "OPTIONS *" counts like any other request. These
// pseudo-header fields count toward the header fields too (see
// [h2HeaderFootprint]), as in Kestrel.
func requestLineSize(r *http.Request) int {
	if r.ProtoMajor < 2 {
		return len(r.Method) + len(r.RequestURI) + len(r.Proto) + len("  \r\n")
	}
	if r.Method == http.MethodConnect && r.Header[":protocol"] == nil {
		// A plain CONNECT has only :method and :authority; net/http uses
		// the authority as RequestURI too.
		return len(r.Method) + len(r.Host)
	}
	return len(r.Method) + h2SchemeLen(r) + len(r.Host) + len(r.RequestURI)
}

// headerFootprint returns the number of r's header fields and their size as
// Kestrel counts them: for HTTP/1, each field line as name, ": ", value and
// CRLF; for HTTP/2, see [h2HeaderFootprint].
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
func headerFootprint(r *http.Request) (count, size int) {
	if r.ProtoMajor >= 2 { // HTTP/3 (quic-go) has HTTP/2's pseudo-header fields
		return h2HeaderFootprint(r)
	}
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
	if r.Host != "" {
		count++
		size += len(hostField) + len(r.Host) + fieldOverhead
	}
	for _, te := range r.TransferEncoding {
		count++
		size += len(transferEncodingField) + len(te) + fieldOverhead
	}
	count, size = addTrailerField(r, count, size, fieldOverhead)
	if pragmaNoCache && cacheControlNoCache {
		count--
		size -= len("Cache-Control") + len("no-cache") + fieldOverhead
	}
	return count, size
}

// addTrailerField adds to count and size the Trailer field net/http took out
// of r.Header into the keys of r.Trailer, rebuilt as a ", "-separated list,
// with overhead bytes besides its name and value.
func addTrailerField(r *http.Request, count, size, overhead int) (int, int) {
	if len(r.Trailer) == 0 {
		return count, size
	}
	count++
	size += len(trailerField) + overhead
	sep := 0
	for name := range r.Trailer {
		size += sep + len(name)
		sep = len(", ")
	}
	return count, size
}

// Lengths of the HTTP/2 field names Kestrel counts and net/http keeps out of
// Request.Header, or spells in another case.
const (
	h2Method    = len(":method")
	h2Scheme    = len(":scheme")
	h2Authority = len(":authority")
	h2Path      = len(":path")
	h2Cookie    = len("cookie")
	crumbSep    = len("; ")
)

// h2HeaderFootprint returns the number and size of the fields of an HTTP/2
// request's header block as the client sent them, counted as Kestrel counts
// them: every field counts, the pseudo-header fields included, and its size
// is the length of its name and of its value (Kestrel's Http2Connection adds
// name.Length + value.Length for each field it decodes, and counts each
// one, before it takes out the pseudo-header fields and merges the cookies).
//
// net/http takes the pseudo-header fields out of Request.Header and joins
// the cookie fields into one "; "-separated Cookie value; this rebuilds both.
//
//   - Cookie crumbs: a client may split a Cookie field into one field per
//     crumb (RFC 9113, section 8.2.3), and clients that care about HPACK
//     (Go's, curl's nghttp2, browsers) do. Every "; "-separated crumb of a
//     Cookie value counts as one "cookie" field: exactly what such a client
//     sent. A client that sent several crumbs in one field cannot be told
//     apart after net/http's join; it is counted as if it had split them,
//     which it may do at any time: one more field, and 4 more bytes, for
//     each crumb after the first.
//   - :method, :scheme and :path, from Method, TLS and RequestURI; a plain
//     CONNECT has neither :scheme nor :path. The :scheme counts as "https"
//     when the request carries TLS state, "http" otherwise, the scheme of
//     the connection as Kestrel takes it; a client that sends the other one,
//     which Kestrel refuses, may be counted a byte off.
//   - :authority, from Host; :protocol stays in Request.Header.
//
// Where the fields cannot be rebuilt the count errs in the client's favour:
// an :authority equal to a Host field sent beside it, or empty, is not
// counted (net/http makes it indistinguishable from no :authority); an
// "Expect: 100-continue", which net/http deletes, is not counted; and a
// Trailer field is rebuilt from Request.Trailer as for HTTP/1.
func h2HeaderFootprint(r *http.Request) (count, size int) {
	var hostField []string
	tunnel := false
	for name, values := range r.Header {
		switch name {
		case "Cookie":
			for _, v := range values {
				crumbs := cookieCrumbs(v)
				count += crumbs
				size += crumbs*h2Cookie + len(v) - (crumbs-1)*crumbSep
			}
			continue
		case "Host":
			hostField = values
		case ":protocol":
			tunnel = true
		}
		for _, v := range values {
			count++
			size += len(name) + len(v)
		}
	}
	count++
	size += h2Method + len(r.Method)
	if r.Host != "" && (len(hostField) == 0 || hostField[0] != r.Host) {
		count++
		size += h2Authority + len(r.Host)
	}
	if r.Method != http.MethodConnect || tunnel {
		count += 2
		size += h2Scheme + h2SchemeLen(r) + h2Path + len(r.RequestURI)
	}
	return addTrailerField(r, count, size, 0)
}

// cookieCrumbs returns the number of "; "-separated crumbs in a Cookie value.
// It skips from one ';' to the next, which beats strings.Count on the long
// crumbs real cookies have.
func cookieCrumbs(v string) int {
	n := 1
	for {
		i := strings.IndexByte(v, ';')
		if i < 0 || i+1 == len(v) {
			return n
		}
		if v[i+1] == ' ' {
			n++
			i++
		}
		v = v[i+1:]
	}
}

// h2SchemeLen returns the length of r's :scheme as Kestrel counts it: the
// scheme of the connection, https when the request carries TLS state.
func h2SchemeLen(r *http.Request) int {
	if r.TLS != nil {
		return len("https")
	}
	return len("http")
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
