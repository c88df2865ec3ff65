package windhover

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/windhover/windhover/unixsock"
)

// Endpoint is an address [Server.Run] listens on, as Kestrel's Endpoints
// name them.
type Endpoint struct {
	// Name is the endpoint's name in Kestrel.Endpoints, for messages.
	Name string
	// URL is the endpoint as written.
	URL string
	// TLS says the endpoint is https.
	TLS bool
	// Network is "tcp", "unix", or "systemd" for the listening sockets
	// systemd passes by socket activation.
	Network string
	// Address is the host and port to listen on ("" as the host: every
	// interface; "localhost": 127.0.0.1 and ::1), the Unix socket's path,
	// or the name (FileDescriptorName=) of the sockets systemd passes, ""
	// for every one.
	Address string
	// Certificate, if set, is the endpoint's own certificate (Kestrel's
	// Endpoints.<name>.Certificate), for an https endpoint only: served on
	// its listeners to clients whose server name has no certificate of its
	// own in Config.SniCertificates, in place of Config.Certificate, and
	// read again when its files change, as Config.Certificate is.
	Certificate CertificateFiles
}

// label names the endpoint i of Config.Endpoints in messages: its name and
// URL, or its index and URL.
func (e Endpoint) label(i int) string {
	if e.Name != "" {
		return fmt.Sprintf("%s (%s)", e.Name, e.URL)
	}
	return fmt.Sprintf("Config.Endpoints[%d] (%s)", i, e.URL)
}

// ParseEndpoint reads a Kestrel endpoint URL: http:// or https://, then a
// host and a port, "unix:" and a socket's path, or "systemd:" and the
// name of the sockets systemd passes by socket activation (Kestrel's
// UseSystemd): "http://systemd:web" serves those of FileDescriptorName=web,
// "http://systemd:" every one; a socket systemd passes that no endpoint
// names is an error of [Server.Listen], so that none is left unserved
// unnoticed. The host is an IP
// address, "localhost" (the IPv4 and IPv6 loopback addresses, as Kestrel
// binds them), or "*", "+", "0.0.0.0" or "[::]" for every interface. A host
// name other than localhost is refused: Kestrel binds every interface for
// one, with a warning, which would listen more widely than the URL says.
// A missing port is the scheme's (80, 443).
func ParseEndpoint(rawURL string) (Endpoint, error) {
	e := Endpoint{URL: rawURL, Network: "tcp"}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	switch {
	case !ok:
		return e, errors.New("want http://host:port, https://host:port, http://unix:/path or http://systemd:name")
	case strings.EqualFold(scheme, "https"):
		e.TLS = true
	case !strings.EqualFold(scheme, "http"):
		return e, fmt.Errorf("scheme %q: want http or https", scheme)
	}
	if path, ok := strings.CutPrefix(rest, "unix:"); ok {
		if path == "" {
			return e, errors.New("a Unix socket needs a path: http://unix:/run/app/http.sock")
		}
		e.Network, e.Address = "unix", path
		return e, nil
	}
	if name, ok := strings.CutPrefix(rest, "systemd:"); ok {
		if strings.ContainsAny(name, ":/") {
			return e, fmt.Errorf("systemd socket name %q: a FileDescriptorName has no ':' or '/'", name)
		}
		e.Network, e.Address = "systemd", name
		return e, nil
	}
	host := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if rest[i:] != "/" {
			return e, fmt.Errorf("a path (%s) cannot be served by an endpoint: route it in the application", rest[i:])
		}
		host = rest[:i]
	}
	// "*" and "+" are not valid URL hosts: read them before url.Parse.
	port := ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	if port == "" {
		port = "80"
		if e.TLS {
			port = "443"
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port[0] == '+' {
		return e, fmt.Errorf("port %q is not a number from 0 to 65535", port)
	} else {
		port = strconv.FormatUint(n, 10)
	}
	switch strings.ToLower(strings.Trim(host, "[]")) {
	case "*", "+", "0.0.0.0", "::":
		e.Address = net.JoinHostPort("", port)
	case "localhost":
		e.Address = net.JoinHostPort("localhost", port)
	default:
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil {
			return e, fmt.Errorf("host %q: write an IP address, localhost, or * for every interface (Kestrel would bind every interface for a name)", host)
		}
		e.Address = net.JoinHostPort(a.String(), port)
	}
	return e, nil
}

// String returns the endpoint's URL.
func (e Endpoint) String() string { return e.URL }

// listen opens e's listeners: two for localhost (IPv4 and IPv6, one of
// which may be missing), one otherwise; for a systemd endpoint, it takes
// those of the activated sockets it names, and marks them taken.
func (e Endpoint) listen(activated *systemdSockets) ([]net.Listener, error) {
	if e.Network == "systemd" {
		return activated.take(e.Address)
	}
	if e.Network == "unix" {
		ln, err := unixsock.Listen(e.Address, unixsock.Config{})
		if err != nil {
			return nil, err
		}
		return []net.Listener{ln}, nil
	}
	host, port, _ := net.SplitHostPort(e.Address)
	if host != "localhost" {
		ln, err := net.Listen("tcp", e.Address)
		if err != nil {
			return nil, err
		}
		return []net.Listener{ln}, nil
	}
	var lns []net.Listener
	var errs []error
	for _, lo := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(lo, port))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lns = append(lns, ln)
		if port == "0" {
			// One port chosen by the system: the other loopback
			// address could not be given the same one.
			break
		}
	}
	if len(lns) == 0 {
		return nil, errors.Join(errs...)
	}
	return lns, nil
}

// systemdSockets are the sockets systemd passed, taken once by
// [Server.Listen] for the systemd endpoints to share.
type systemdSockets struct {
	ss    unixsock.Sockets
	err   error
	taken []bool
}

// activate takes the sockets systemd passed, if eps has a systemd
// endpoint.
func activate(eps []Endpoint) *systemdSockets {
	for _, e := range eps {
		if e.Network == "systemd" {
			ss, err := unixsock.Activated(true)
			return &systemdSockets{ss: ss, err: err, taken: make([]bool, len(ss))}
		}
	}
	return nil
}

// take returns the listeners named name ("" for every one).
func (a *systemdSockets) take(name string) ([]net.Listener, error) {
	if a.err != nil {
		return nil, fmt.Errorf("systemd socket activation: %w", a.err)
	}
	var lns []net.Listener
	for i, s := range a.ss {
		if name != "" && s.Name != name {
			continue
		}
		if s.Listener == nil {
			return nil, fmt.Errorf("systemd passed socket %q (fd %d), which is not a listening stream socket", s.Name, s.FD)
		}
		a.taken[i] = true
		lns = append(lns, s.Listener)
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("systemd passed no socket named %q", name)
	}
	return lns, nil
}

// unclaimed reports every socket no endpoint took.
func (a *systemdSockets) unclaimed() error {
	if a == nil || a.err != nil {
		return nil
	}
	var errs []error
	for i, s := range a.ss {
		if !a.taken[i] {
			errs = append(errs, fmt.Errorf("systemd passed socket %q (fd %d), which no endpoint names: add http://systemd:%s", s.Name, s.FD, s.Name))
		}
	}
	return errors.Join(errs...)
}

// close closes every socket systemd passed.
func (a *systemdSockets) close() {
	if a != nil {
		_ = a.ss.Close()
	}
}
