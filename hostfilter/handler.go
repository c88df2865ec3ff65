package hostfilter

import (
	"io"
	"net/http"

	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/star"
	"github.com/windhover/windhover/internal/stripe"
)

// failureMessage is the body of a refusal unless OmitFailureMessage is set:
// Kestrel's "Invalid Hostname", as plain text.
const failureMessage = "invalid hostname\n"

// Handler returns next behind f: a request whose host is allowed reaches next
// unchanged, without allocating; any other gets 400 Bad Request with the
// plain-text body "invalid hostname" (empty with OmitFailureMessage), is
// counted under its [Reason] and reported to OnReject. As in Kestrel the
// connection stays open for the client's next request, unless the refused
// request has a body, which it closes rather than read.
//
// Every host the request names is judged: r.Host (the Host field over
// HTTP/1, or the authority of an absolute-form request target, "GET
// http://example.com/ HTTP/1.1", which net/http puts there instead as RFC
// 9112 requires; :authority over HTTP/2), and over HTTP/2 the authority of
// an absolute :path (r.URL.Host) and any Host field beside :authority. Each
// must be allowed, and all must be the same host ([ReasonHostMismatch]).
//
// An "OPTIONS *" request whose host is allowed is handed on to next if next
// is another windhover handler, and otherwise answered here as net/http's
// built-in handler would (200, empty), so that the application's router
// never meets it. net/http answers such requests itself, before any
// handler, unless http.Server.DisableGeneralOptionsHandler is set
// ([Filter.Apply] sets it); the first request through a server that does
// not set it logs one warning through slog's default logger.
func (f *Filter) Handler(next http.Handler) http.Handler {
	return &handler{f: f, next: next, last: star.Last(next)}
}

type handler struct {
	f     *Filter
	next  http.Handler
	last  bool // next is not a windhover handler: answer "OPTIONS *" here
	guard star.Guard
}

// HandlesOptionsStar marks the handler as one that answers "OPTIONS *"
// itself when it is the last windhover handler.
func (h *handler) HandlesOptionsStar() {}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard.Check(r, "hostfilter")
	f := h.f
	reason, host := f.judge(r)
	if reason == accepted {
		f.allowed.Add(stripe.Here(), 1)
		if h.last && star.Is(r) {
			star.Answer(w, r)
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}
	f.rejected[reason].Add(1)
	if f.onReject != nil {
		f.onReject(r, &Error{Reason: reason, Host: host})
	}
	f.refuse(w, r)
}

// refuse answers 400 with the failure message, or without a body. Over
// HTTP/1 a request with a body it will not read closes the connection after
// the answer, at once: otherwise net/http would first read up to 256 KB of
// that body, at whatever pace the client sends it, to keep the connection.
func (f *Filter) refuse(w http.ResponseWriter, r *http.Request) {
	refuse.SkipBody(w, r)
	h := w.Header()
	if f.omitMessage {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, failureMessage)
}
