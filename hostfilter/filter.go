package hostfilter

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/windhover/windhover/internal/stripe"
)

// Filter admits requests whose host is allowed, through [Filter.Handler] or
// [Filter.Check], and counts its decisions. A Filter is safe for concurrent
// use; its patterns are fixed at construction.
type Filter struct {
	m           matcher
	rejectEmpty bool
	omitMessage bool
	onReject    func(*http.Request, error)
	allowed     stripe.Counter
	rejected    [numReasons]atomic.Uint64

	// seen holds hosts accepted lately, as sent, and next picks the
	// one a newly accepted host replaces: the few hosts a server meets on
	// nearly every request are each judged by one comparison.
	seen [seenHosts]atomic.Pointer[string]
	next atomic.Uint32
}

// seenHosts is how many accepted hosts a Filter remembers. Each is at most
// a name, a trailing dot and a port long, as the matcher accepts no longer.
const seenHosts = 4

// New returns a Filter for cfg, or an error naming the first invalid field
// or entry.
func New(cfg Config) (*Filter, error) {
	if len(cfg.AllowedHosts) == 0 {
		return nil, errors.New(`windhover/hostfilter: Config.AllowedHosts is empty: no allowed hosts configured (use "*" to allow any host)`)
	}
	m, err := compile(cfg.AllowedHosts, func(i int) string {
		return "windhover/hostfilter: Config.AllowedHosts[" + strconv.Itoa(i) + "]"
	})
	if err != nil {
		return nil, err
	}
	return &Filter{
		m:           m,
		rejectEmpty: cfg.RejectEmptyHost,
		omitMessage: cfg.OmitFailureMessage,
		onReject:    cfg.OnReject,
	}, nil
}

// Allow returns a Filter with Kestrel's defaults for the given patterns,
// written as [Config.AllowedHosts] entries:
//
//	h = hostfilter.Allow("example.com", "*.example.com").Handler(h)
//
// It is for patterns written into the program: it panics, with a message
// starting "hostfilter: ", if there are none or one is invalid. Use [New]
// for patterns read from configuration.
func Allow(patterns ...string) *Filter {
	if len(patterns) == 0 {
		panic("hostfilter: Allow needs at least one pattern")
	}
	m, err := compile(patterns, func(i int) string {
		return "hostfilter: Allow pattern " + strconv.Itoa(i+1)
	})
	if err != nil {
		panic(err.Error())
	}
	return &Filter{m: m}
}

// Check judges r's host as [Filter.Handler] does, counting the decision and
// reporting a refusal to OnReject, and returns nil or an [*Error]. It is for
// callers that answer refusals themselves.
func (f *Filter) Check(r *http.Request) error {
	reason, host := f.judge(r)
	if reason == accepted {
		f.allowed.Add(stripe.Here(), 1)
		return nil
	}
	err := &Error{Reason: reason, Host: host}
	f.rejected[reason].Add(1)
	if f.onReject != nil {
		f.onReject(r, err)
	}
	return err
}

// Allows reports whether a request whose Host is host would pass, without
// counting it or calling OnReject: for hosts met outside a request, such as
// a TLS server name. The empty host passes unless RejectEmptyHost is set.
func (f *Filter) Allows(host string) bool {
	return f.verdict(host) == accepted
}

// judge returns r's verdict and the host it concerns. A request may name
// more than one host, and an application may read any of them:
//
//   - r.Host: the Host field over HTTP/1, or the authority of an
//     absolute-form target, which net/http puts there instead (dropping the
//     Host field); :authority over HTTP/2, or the Host field without it;
//   - r.URL.Host: over HTTP/2, the authority of an absolute :path, which
//     net/http parses into r.URL whatever :authority says;
//   - r.Header["Host"]: over HTTP/2, Host fields beside :authority, which
//     net/http leaves in r.Header.
//
// Each must be allowed, and all must be the same host: RFC 9113 forbids
// them to differ, and a request that names two hosts leaves the handlers
// behind to pick one. Only the first test runs for an ordinary request.
func (f *Filter) judge(r *http.Request) (Reason, string) {
	named := r.Host
	if v := f.verdict(named); v != accepted {
		return v, named
	}
	if u := r.URL; u != nil && u.Host != "" && u.Host != named {
		if v := f.also(&named, u.Host); v != accepted {
			return v, u.Host
		}
	}
	for _, h := range r.Header["Host"] {
		if h != named {
			if v := f.also(&named, h); v != accepted {
				return v, h
			}
		}
	}
	return accepted, ""
}

// also judges h, another host the request names besides named, the first
// non-empty host it named so far ("" if none), and makes h named if it is the
// first.
func (f *Filter) also(named *string, h string) Reason {
	if v := f.verdict(h); v != accepted {
		return v
	}
	switch {
	case h == "":
	case *named == "":
		*named = h
	case !sameHost(*named, h):
		return ReasonHostMismatch
	}
	return accepted
}

func (f *Filter) verdict(host string) Reason {
	if host != "" {
		for i := range f.seen {
			if p := f.seen[i].Load(); p != nil && *p == host {
				return accepted
			}
		}
	}
	v := f.m.match(host)
	if v == ReasonEmptyHost && !f.rejectEmpty {
		return accepted
	}
	if v == accepted {
		// A copy, in its own variable so that only a miss allocates: the
		// host may be a slice of a whole request line (an absolute-form
		// target), which the Filter must not keep alive.
		h := strings.Clone(host)
		f.seen[f.next.Add(1)%seenHosts].Store(&h)
	}
	return v
}

// Stats is a snapshot of a Filter's counters.
type Stats struct {
	// Allowed counts the requests let through.
	Allowed uint64
	// Rejected counts the refusals, indexed by [Reason].
	Rejected [NumReasons]uint64
}

// RejectedTotal is the sum of Rejected.
func (s Stats) RejectedTotal() uint64 {
	var t uint64
	for _, n := range s.Rejected {
		t += n
	}
	return t
}

// Stats returns a snapshot of f's counters. Each counter is read atomically;
// the snapshot as a whole is not a single instant.
func (f *Filter) Stats() Stats {
	s := Stats{Allowed: uint64(f.allowed.Load())}
	for i := range f.rejected {
		s.Rejected[i] = f.rejected[i].Load()
	}
	return s
}
