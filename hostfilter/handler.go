package hostfilter

import (
	"io"
	"net/http"

	"github.com/windhover/windhover/internal/refuse"
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
// The host judged is r.Host: the Host field over HTTP/1, or the authority of
// an absolute-form request target ("GET http://example.com/ HTTP/1.1"),
// which net/http puts there instead as RFC 9112 requires; :authority over
// HTTP/2, and any Host field beside it.
func (f *Filter) Handler(next http.Handler) http.Handler {
	return &handler{f: f, next: next}
}

type handler struct {
	f    *Filter
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := h.f
	reason, host := f.judge(r)
	if reason == accepted {
		f.allowed.Add(1)
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
