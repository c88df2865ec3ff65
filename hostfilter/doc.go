// Package hostfilter admits only requests that name an allowed host, after
// ASP.NET Core's host filtering (HostFilteringOptions): the defence against
// DNS rebinding, and against a forged Host finding its way into links,
// password-reset mails and cache keys that an application builds from
// r.Host.
//
// # Use
//
// Patterns written into the program, with Kestrel's defaults:
//
//	f := hostfilter.Allow("example.com", "*.example.com")
//	srv.Handler = f.Handler(srv.Handler)
//	f.Apply(srv) // "OPTIONS *" through the filter too
//
// Patterns read from configuration, in ASP.NET's AllowedHosts form, with
// every option:
//
//	f, err := hostfilter.New(hostfilter.Config{
//		AllowedHosts:    hostfilter.ParseAllowedHosts(os.Getenv("ALLOWED_HOSTS")), // "example.com;*.example.com"
//		RejectEmptyHost: true,
//		OnReject:        func(r *http.Request, err error) { slog.Warn("refused", "err", err) },
//	})
//	if err != nil { ... } // the message names the bad entry
//	srv.Handler = f.Handler(srv.Handler)
//	f.Apply(srv)
//
// [Filter.Apply] sets http.Server.DisableGeneralOptionsHandler, without
// which net/http answers "OPTIONS *" itself, to any host, before the filter
// sees it; the Handler then answers it as net/http would once its host
// passed. A server without that setting is reported once, by a warning
// through slog's default logger at the first request.
//
// # Patterns
//
// An entry of [Config.AllowedHosts] is "*" (any well-formed host; "[::]" and
// "0.0.0.0", the listen-everywhere addresses, mean the same, as in Kestrel's
// MiddlewareConfigurationManager), a name
// ("example.com"), a wildcard ("*.example.com": every subdomain at any depth,
// not example.com itself), an IP address ("192.0.2.1", "[2001:db8::1]") or a
// CIDR prefix ("10.0.0.0/8", "fd00::/8"). Entries are validated and
// precomputed when the Filter is built: an empty list, an empty entry, a port
// ("example.com:443"), a scheme, a path, a misplaced "*", a prefix with host
// bits set or a name that no Host could match is an error naming the entry.
// Unicode names are converted to punycode with golang.org/x/net/idna
// ("bücher.example" allows "xn--bcher-kva.example").
//
// # Which hosts are judged
//
// Every host the request names, since an application may read any of them:
// r.Host, as net/http fills it (the Host field of an HTTP/1 request, or the
// authority of an absolute-form target, "GET http://example.com/ HTTP/1.1",
// which RFC 9112 says overrides the Host field, and net/http does; over
// HTTP/2 the :authority pseudo-header, or the Host field without it); over
// HTTP/2 the authority of an absolute :path ("http://evil.example/admin"),
// which net/http parses into r.URL.Host whatever :authority says; and a Host
// field beside :authority, which net/http leaves in r.Header. Each must be
// allowed, and all must name the same host, compared as below
// ([ReasonHostMismatch] otherwise): RFC 9113 calls such a request
// malformed, and two handlers of one request, one reading r.Host, the other
// r.URL.Host, must not serve two different hosts. Over HTTP/1 an absolute-form
// target whose authority differs from the Host field cannot be seen: net/http
// drops the field, so the application meets only the target's host, which
// is judged, where Kestrel answers 400.
//
// The host is compared as received, folded to lower case, with its port (any
// valid port, which is otherwise ignored) and one trailing dot removed.
// IP literals are compared as addresses: [0:0::1] is [::1], and
// [::ffff:192.0.2.1] is 192.0.2.1 to IPv4 entries. Nothing else is
// normalised. In particular a Host in Unicode or with percent-escapes is
// refused as malformed rather than converted: RFC 9110's Host is ASCII,
// browsers send punycode, and converting would let a host such as
// "ｅxample.com" through to handlers that read r.Host as it came. For the
// same reason a name that ends in a number ("127.1", "0x7f.1") must be a
// dotted-quad IPv4 address, which browsers send in its place.
//
// # Refusals
//
// A refused request gets 400 Bad Request with the plain-text body "invalid
// hostname" ([Config.OmitFailureMessage] makes it empty), is counted in
// [Filter.Stats] under its [Reason] and reported to [Config.OnReject] as an
// [*Error]. As in Kestrel the connection stays open, except over HTTP/1
// when the refused request has a body: it is not read, and the connection
// closes after the answer. The reasons are [ReasonEmptyHost] (only with
// [Config.RejectEmptyHost]; by default a request without a host, which
// HTTP/1.0 allows, passes as in Kestrel),
// [ReasonMalformedHost] (a host that cannot be one: a bad port, an empty
// label as in "x..example.com", a byte no host name holds, an unbracketed
// IPv6 address), [ReasonHostNotAllowed] and [ReasonHostMismatch] (two
// different hosts, each allowed). Malformed hosts are refused even
// with "*", which admits every well-formed host: Kestrel's server itself
// refuses malformed Host values before its filter runs, and over HTTP/2
// net/http does not (see below).
// [Filter.Check] judges a request without answering it; [Filter.Allows]
// judges a bare host, such as a TLS server name, without counting.
//
// # What net/http refuses before any handler
//
// Over HTTP/1 net/http answers 400 itself, and closes the connection, for an
// HTTP/1.1 request without a Host field ("missing required Host header";
// CONNECT excepted), for more than one Host field, for a Host field holding a
// byte outside letters, digits and !$%&'()*+,-.:;=[]_~ ("malformed Host
// header": a space, '/', '@', '?', non-ASCII), and for an absolute-form
// target that is no valid URL. Those requests never reach the filter and are
// not in its Stats. Over HTTP/2 net/http only resets the stream (PROTOCOL_ERROR)
// for an :authority with userinfo ('@') or a control character; everything
// else, "exa mple.com" and "example.com/x" included, reaches the handler,
// where this package refuses it as malformed.
//
// # Where Go does better than Kestrel
//
// Kestrel compares hosts as strings: "[0:0::1]" is not "[::1]" there and
// "example.com." is not "example.com"; its wildcard matching let
// "..example.com" through until 2026 (aspnetcore #66652). Here IP literals are compared as addresses,
// IPv4-mapped forms included, trailing dots are the plain name, a host with
// an empty label anywhere ("..x.example.com") never matches anything, and
// CIDR entries match IP-literal hosts, which Kestrel's users asked for
// (aspnetcore #41702).
//
// # Cost
//
// Matching does not slow down as patterns are added: exact names and
// wildcard suffixes are looked up in maps (one lookup for each dot in the
// last labels of the host, as far back as the longest wildcard reaches), and
// addresses in a map of prefixes, once for each prefix length in use. With
// 1,000 patterns a check takes well under a microsecond. A request that
// passes costs no allocation, one atomic add and one atomic load.
package hostfilter
