package metrics

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Label names, after OpenTelemetry's attribute names with dots as
// underscores.
const (
	labelMethod       = "http_request_method"
	labelStatus       = "http_response_status_code"
	labelRoute        = "http_route"
	labelScheme       = "url_scheme"
	labelProtocol     = "network_protocol_version"
	labelProtocolName = "network_protocol_name"
	labelTransport    = "network_transport"
	labelNetworkType  = "network_type"
	labelTLSVersion   = "tls_protocol_version"
	labelErrorType    = "error_type"
	labelState        = "state"
	labelPolicy       = "policy"
	labelPolicyName   = "policy_name"
	labelReason       = "reason"
	labelDirection    = "direction"
)

// The methods OpenTelemetry knows by name; any other is reported as _OTHER,
// so that a client cannot create series at will.
var methods = [...]string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
}

const numMethods = len(methods)

// methodIndex returns the index of m in methods.
func methodIndex(m string) uint8 {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodDelete:
		return 4
	case http.MethodConnect:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodTrace:
		return 7
	case http.MethodPatch:
		return 8
	}
	return uint8(numMethods - 1)
}

var schemes = [2]string{"http", "https"}

func schemeIndex(r *http.Request) uint8 {
	if r.TLS != nil {
		return 1
	}
	return 0
}

// Protocol versions, as OpenTelemetry's network.protocol.version spells
// them. Index 0 is unknown, which Prometheus shows as an absent label.
var protocols = [...]string{"", "1.0", "1.1", "2", "3"}

const (
	protoUnknown uint8 = iota
	proto10
	proto11
	proto2
	proto3
)

func protocolIndex(major, minor int) uint8 {
	switch {
	case major == 2:
		return proto2
	case major == 3:
		return proto3
	case major == 1 && minor == 1:
		return proto11
	case major == 1 && minor == 0:
		return proto10
	}
	return protoUnknown
}

// statusLabel returns code as a label value; 0, no status, is "".
func statusLabel(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}

// errorType returns OpenTelemetry's error.type for a request answered with
// code: the code itself for a server error (5xx), the one status class a
// server reports as its own failure; none otherwise.
func errorType(code int) string {
	if code >= 500 && code <= 599 {
		return strconv.Itoa(code)
	}
	return ""
}

// routeLabel returns the route of a ServeMux pattern ("[METHOD ][HOST]/PATH"):
// the pattern without its method, which has a label of its own.
func routeLabel(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// Transports, after OpenTelemetry's network.transport values.
var transports = [...]string{"tcp", "unix", "other"}

const (
	transportTCP uint8 = iota
	transportUnix
	transportOther
)

// transportIndex names the transport of a connection from its local address:
// the listener's network.
func transportIndex(c net.Conn) uint8 {
	addr := c.LocalAddr()
	if addr == nil {
		return transportOther
	}
	switch n := addr.Network(); {
	case strings.HasPrefix(n, "tcp"):
		return transportTCP
	case strings.HasPrefix(n, "unix"):
		return transportUnix
	}
	return transportOther
}

// Network types, after OpenTelemetry's network.type values; index 0 is
// unknown (not IP).
var networkTypes = [...]string{"", "ipv4", "ipv6"}

// networkTypeIndex names the network layer of a connection from its local
// address.
func networkTypeIndex(c net.Conn) uint8 {
	addr, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return 0
	}
	if addr.IP.To4() != nil {
		return 1
	}
	return 2
}

// tlsVersions names TLS versions as OpenTelemetry's tls.protocol.version
// does; index 0 is unknown.
var tlsVersions = [...]string{"", "1.0", "1.1", "1.2", "1.3"}

func tlsVersionIndex(v uint16) uint8 {
	if v >= 0x0301 && v <= 0x0304 {
		return uint8(v-0x0301) + 1
	}
	return 0
}
