package certauth

import (
	"net/netip"
	"slices"
	"strings"
)

// hostModes maps server names to modes, built once from Config.Hosts.
type hostModes struct {
	def   Mode
	exact map[string]Mode
	wild  []wildcard // longest suffix first
	// differs: some host has a mode other than def, so connections differ
	// in the handshakes they had.
	differs bool
	// entries are Config.Hosts as written, sorted by key, for the messages
	// of errors that name an entry.
	entries []hostEntry
}

type hostEntry struct {
	key  string
	mode Mode
}

type wildcard struct {
	suffix string // ".example.com"
	mode   Mode
}

func newHostModes(def Mode, hosts map[string]Mode) (hostModes, error) {
	h := hostModes{def: def, exact: make(map[string]Mode)}
	seen := make(map[string]string)
	for key, m := range hosts {
		if m >= numModes {
			return h, fieldError("Hosts["+quote(key)+"]", m, "is not a Mode")
		}
		name, ok := normalizePattern(key)
		if !ok {
			return h, fieldError("Hosts", quote(key), "is not a host name or a *.wildcard of one")
		}
		if prev, dup := seen[name]; dup {
			return h, fieldError("Hosts", quote(key), "repeats "+quote(prev))
		}
		seen[name] = key
		h.entries = append(h.entries, hostEntry{key, m})
		h.differs = h.differs || m != def
		if suffix, ok := strings.CutPrefix(name, "*"); ok {
			h.wild = append(h.wild, wildcard{suffix: suffix, mode: m})
		} else {
			h.exact[name] = m
		}
	}
	slices.SortFunc(h.wild, func(a, b wildcard) int { return len(b.suffix) - len(a.suffix) })
	slices.SortFunc(h.entries, func(a, b hostEntry) int { return strings.Compare(a.key, b.key) })
	return h, nil
}

// asks reports whether any handshake asks for a certificate.
func (h *hostModes) asks() bool {
	if h.def != NoCertificate {
		return true
	}
	for _, e := range h.entries {
		if e.mode != NoCertificate {
			return true
		}
	}
	return false
}

func quote(s string) string { return `"` + s + `"` }

// normalizePattern lowercases a Hosts key and drops a trailing dot, and
// reports whether it is a DNS name ("a.example.com") or a wildcard of one
// ("*.example.com"). IP addresses are refused: SNI never carries them.
func normalizePattern(p string) (string, bool) {
	p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
	name, wild := strings.CutPrefix(p, "*.")
	if _, err := netip.ParseAddr(name); err == nil || !validName(name) {
		return "", false
	}
	if wild {
		return "*." + name, true
	}
	return name, true
}

// validName reports whether s is a dot-separated list of non-empty labels of
// lowercase letters, digits, hyphens and underscores.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// lookup returns the mode for a server name or a request's host (without
// its port). A name that is not a valid DNS name gets the default mode.
func (h *hostModes) lookup(name string) Mode {
	if !h.differs {
		return h.def
	}
	name = strings.TrimSuffix(name, ".")
	if hasUpper(name) {
		name = strings.ToLower(name)
	}
	if m, ok := h.exact[name]; ok {
		return m
	}
	for _, w := range h.wild {
		if len(name) > len(w.suffix) && strings.HasSuffix(name, w.suffix) &&
			name[0] != '.' && !strings.Contains(name[:len(name)-len(w.suffix)], "..") &&
			name[len(name)-len(w.suffix)-1] != '.' {
			return w.mode
		}
	}
	return h.def
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// hostOnly returns the host of a Host header value without its port or the
// brackets of an IPv6 literal, without allocating.
func hostOnly(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		if end := strings.IndexByte(hostport, ']'); end > 0 {
			return hostport[1:end]
		}
		return hostport
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && strings.IndexByte(hostport, ':') == i {
		return hostport[:i]
	}
	return hostport
}
