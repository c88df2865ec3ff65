package unixsock

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"sync/atomic"

	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/star"
)

// PeerConfig says which peers a [PeerFilter] admits: a peer whose effective
// user ID is in UIDs or whose effective group ID is in GIDs. The zero
// PeerConfig admits only the server's own effective user.
type PeerConfig struct {
	// UIDs are the user IDs admitted. If both UIDs and GIDs are empty, the
	// process's effective user ID is the only one admitted. Negative IDs
	// are an error. Root (0) is admitted only if listed.
	UIDs []int

	// GIDs are the group IDs admitted, compared with the peer's effective
	// group ID only: SO_PEERCRED does not carry supplementary groups, so a
	// user who is merely a member of a listed group is not admitted by it.
	GIDs []int

	// OnReject, if set, is called for each refused request with the request
	// and a [*PeerError]. It runs on the request's goroutine before the 403
	// is written, so it must be quick and safe for concurrent use.
	OnReject func(r *http.Request, err error)
}

// PeerFilter admits requests from chosen local users and groups, by the
// peer credentials [ConnContext] put in each request's context, and answers
// every other request 403 Forbidden: from a peer not admitted, and from any
// request without credentials (one over TCP, or a server without
// ConnContext), since it cannot tell who sent it. A PeerFilter is safe for
// concurrent use.
type PeerFilter struct {
	uids, gids []int
	onReject   func(*http.Request, error)
	admitted   atomic.Uint64
	refused    [numReasons]atomic.Uint64
}

// NewPeerFilter returns a PeerFilter for cfg, or an error naming the first
// invalid field. Outside Linux, where peer credentials cannot be read, it
// returns an error wrapping [ErrNotSupported]: a filter that could only
// refuse is a configuration error.
func NewPeerFilter(cfg PeerConfig) (*PeerFilter, error) {
	if !peerCredSupported {
		return nil, fmt.Errorf("%w: peer credentials", ErrNotSupported)
	}
	for i, id := range cfg.UIDs {
		if err := checkID("UIDs", i, id); err != nil {
			return nil, err
		}
	}
	for i, id := range cfg.GIDs {
		if err := checkID("GIDs", i, id); err != nil {
			return nil, err
		}
	}
	f := &PeerFilter{uids: slices.Clone(cfg.UIDs), gids: slices.Clone(cfg.GIDs), onReject: cfg.OnReject}
	if len(f.uids) == 0 && len(f.gids) == 0 {
		f.uids = []int{os.Geteuid()}
	}
	return f, nil
}

func checkID(field string, i, id int) error {
	if id < 0 || int64(id) >= math.MaxUint32 {
		return fmt.Errorf("windhover/unixsock: PeerConfig.%s[%d] = %d is not a user or group ID (0 to 4294967294)", field, i, id)
	}
	return nil
}

// Admits reports whether f admits a peer with credentials c.
func (f *PeerFilter) Admits(c PeerCred) bool {
	return slices.Contains(f.uids, c.UID) || slices.Contains(f.gids, c.GID)
}

// PeerStats is a snapshot of a PeerFilter's counters.
type PeerStats struct {
	// Admitted counts the requests let through.
	Admitted uint64
	// Rejected counts the requests refused, indexed by [Reason].
	Rejected [NumReasons]uint64
}

// RejectedTotal is the sum of Rejected.
func (s PeerStats) RejectedTotal() uint64 {
	var t uint64
	for _, n := range s.Rejected {
		t += n
	}
	return t
}

// Stats returns a snapshot of f's counters. Each counter is read
// atomically; the snapshot as a whole is not a single instant.
func (f *PeerFilter) Stats() PeerStats {
	s := PeerStats{Admitted: f.admitted.Load()}
	for i := range f.refused {
		s.Rejected[i] = f.refused[i].Load()
	}
	return s
}

// Check returns nil if r's peer is admitted, or else a [*PeerError],
// counted and reported to OnReject as the Handler would. It is for callers
// that answer refusals themselves. It does not allocate for an admitted
// request.
func (f *PeerFilter) Check(r *http.Request) error {
	cred, ok := PeerCredFromContext(r.Context())
	if ok && f.Admits(cred) {
		f.admitted.Add(1)
		return nil
	}
	err := &PeerError{Reason: ReasonPeerNotAllowed, Cred: cred}
	if !ok {
		err.Reason = ReasonNoPeerCred
	}
	f.refused[err.Reason].Add(1)
	if f.onReject != nil {
		f.onReject(r, err)
	}
	return err
}

// Handler returns next behind f: a request from an admitted peer reaches
// next unchanged; any other gets 403 Forbidden with a one-line plain text
// body. Over HTTP/1 the connection is closed after the 403, since every later
// request on it would come from the same peer, and at once: net/http does not
// first read whatever request body was left unread. Over HTTP/2 only the
// stream ends.
//
// An "OPTIONS *" request is checked like any other, if the server hands it
// to its Handler (http.Server.DisableGeneralOptionsHandler, which every
// windhover Apply sets; a server that answers it itself is reported once,
// through slog). Admitted and in front of no other windhover handler, it is
// answered as net/http would answer it (200, empty).
func (f *PeerFilter) Handler(next http.Handler) http.Handler {
	return &peerHandler{f: f, next: next, last: star.Last(next)}
}

type peerHandler struct {
	f     *PeerFilter
	next  http.Handler
	last  bool // next is not a windhover handler: answer "OPTIONS *" here
	guard star.Guard
}

// HandlesOptionsStar marks the handler as one that deals with "OPTIONS *".
func (*peerHandler) HandlesOptionsStar() {}

func (h *peerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "unixsock")
	if h.f.Check(r) != nil {
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
			refuse.SkipBody(w, r)
		}
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	if h.last && star.Is(r) {
		star.Answer(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}
