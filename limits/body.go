package limits

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/windhover/windhover/internal/refuse"
	"github.com/windhover/windhover/internal/rw"
)

// bodyRequest is everything the limits handler keeps for a request with a
// body, in one allocation: the shallow copy of the request handed on (so the
// caller's request is not modified), its limited body, and the response
// wrapper that tells whether a 413 can still be sent.
type bodyRequest struct {
	req      http.Request
	body     limitedBody
	w        rw.Writer
	l        *Limiter
	exceeded atomic.Bool
}

// limitedBody is a request body under a size limit that may change until the
// first Read. It fails a read past the limit with *http.MaxBytesError, as
// http.MaxBytesReader does, so handlers that know that error keep working.
type limitedBody struct {
	rc      io.ReadCloser
	br      *bodyRequest
	limit   int64 // negative: none
	n       int64 // bytes returned so far
	started bool
	err     error
}

// Read reads from the body, failing once the bytes read would pass the limit,
// or at once if the declared Content-Length does.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.started {
		b.started = true
		if cl := b.br.req.ContentLength; b.limit >= 0 && cl > b.limit {
			return 0, b.exceed(cl)
		}
	}
	if b.limit < 0 {
		n, err := b.rc.Read(p)
		b.n += int64(n)
		return n, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte more than the limit allows tells a body that ends exactly at
	// the limit from one that goes past it.
	remaining := b.limit - b.n
	if int64(len(p)) > remaining+1 {
		p = p[:remaining+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= remaining {
		b.n += int64(n)
		if err != nil {
			b.err = err
		}
		return n, err
	}
	b.n = b.limit
	return int(remaining), b.exceed(-1)
}

// Close closes the underlying body.
func (b *limitedBody) Close() error { return b.rc.Close() }

// exceed fails the body for good, counts the refusal and makes sure the
// connection is not reused: the client is still sending a body nobody reads.
func (b *limitedBody) exceed(size int64) error {
	mbe := &http.MaxBytesError{Limit: b.limit}
	b.err = mbe
	br := b.br
	br.exceeded.Store(true)
	br.l.reject(&br.req, &Error{Reason: ReasonBodyTooLarge, Limit: b.limit, Size: size, Err: mbe})
	closeAfterReply(br.w.Unwrap())
	refuse.StopReading(br.w.Unwrap(), &br.req)
	return mbe
}

// closeAfterReply tells net/http's HTTP/1 server to close the connection after
// this response, even if the handler already sent its header. The only public
// way to reach that switch is an http.MaxBytesReader that overflows, which
// "tells the ResponseWriter to close the connection after the limit has been
// reached"; it must be given net/http's own writer, so w is unwrapped first.
// On HTTP/2 it does nothing, and nothing is needed: the stream ends alone.
func closeAfterReply(w http.ResponseWriter) {
	for range 16 {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	var one [1]byte
	_, _ = http.MaxBytesReader(w, io.NopCloser(strings.NewReader("x")), 0).Read(one[:])
}

// SetMaxRequestBodySize changes the body size limit of r, a request passed
// on by a [Limiter]'s handler, to n bytes; a negative n removes the limit.
// Like Kestrel's IHttpMaxRequestBodySizeFeature it may raise or lower the
// limit only until the body is first read, and returns [ErrBodyReadStarted]
// after. Call it from the handler's goroutine before reading the body.
//
// A request whose declared Content-Length exceeded the limit in force when it
// arrived was answered 413 before any handler ran; to admit such requests on
// some routes, raise their limit with [Config.MaxRequestBodySizeFunc]. A
// lower limit set here applies to the declared length at the first Read.
//
// It returns nil for a request without a body, and [ErrNoBodyLimit] if r's
// body is not under a Limiter (no limits handler in front, or a middleware
// replaced Request.Body after it).
func SetMaxRequestBodySize(r *http.Request, n int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, ok := r.Body.(*limitedBody)
	if !ok {
		return ErrNoBodyLimit
	}
	if b.started {
		return ErrBodyReadStarted
	}
	b.limit = n
	return nil
}
