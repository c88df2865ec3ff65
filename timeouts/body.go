package timeouts

import (
	"io"
	"net/http"
)

// body is a request body whose Reads are timed against the minimum rate.
// Every Read holds the request's readMu, so that draining the body when the
// response starts (unread.go) never runs beside one.
type body struct {
	rc io.ReadCloser
	q  *request
}

// Read reads from the body, first what a drain set aside; a Read the alarm
// cuts returns a [*RateError].
func (b *body) Read(p []byte) (int, error) {
	q := b.q
	q.readMu.Lock()
	defer q.readMu.Unlock()
	if q.bodyClosed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(q.stash) > 0 {
		n := copy(p, q.stash)
		q.stash = q.stash[n:]
		q.bodyRead += int64(n)
		return n, nil
	}
	if q.bodyEOF {
		return 0, io.EOF
	}
	policed, err := q.beginRead()
	if err != nil {
		return 0, err
	}
	n, err := b.rc.Read(p)
	if policed {
		n, err = q.endRead(n, err)
	}
	q.bodyRead += int64(n)
	switch {
	case err == io.EOF:
		q.bodyEOF = true
	case err != nil:
		q.bodyFailed = true
	}
	return n, err
}

// Close closes the body. Over HTTP/1 net/http's Close reads what is left of
// the body, at the client's pace; a body not read to its end is therefore
// only marked closed here, and what is left of it is dealt with when the
// response goes out, as for a body the handler never touched.
func (b *body) Close() error {
	q := b.q
	if q.h2 {
		return b.rc.Close()
	}
	q.readMu.Lock()
	defer q.readMu.Unlock()
	if q.bodyClosed {
		return nil
	}
	q.bodyClosed = true
	q.releaseStash()
	if !q.bodyEOF {
		return nil
	}
	q.rcClosed = true
	return b.rc.Close()
}
