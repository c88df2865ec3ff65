package timeouts

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// body is a request body whose Reads are timed against the minimum rate, and
// the state of what the handler left of it when the response starts
// (unread.go). Every Read holds mu, so that a drain never runs beside one.
type body struct {
	rc io.ReadCloser
	q  *request

	mu       sync.Mutex
	read     int64 // bytes handed to the handler
	eof      bool  // rc returned io.EOF
	failed   bool  // rc returned another error
	closed   bool  // the handler closed the body
	rcClosed bool  // and rc was closed too
	stash    []byte
	stashBuf *[stashSize]byte

	// When the server's ReadTimeout, kept by Config.KeepServerTimeouts,
	// ends the request; zero if none.
	readLimit time.Time
}

// Read reads from the body, first what a drain set aside; a Read the alarm
// cuts returns a [*RateError].
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(b.stash) > 0 {
		n := copy(p, b.stash)
		b.stash = b.stash[n:]
		b.read += int64(n)
		return n, nil
	}
	if b.eof {
		return 0, io.EOF
	}
	q := b.q
	policed, err := q.beginRead()
	if err != nil {
		return 0, err
	}
	n, err := b.rc.Read(p)
	if policed {
		n, err = q.endRead(n, err)
	}
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.failed = true
	}
	return n, err
}

// Close closes the body. Over HTTP/1 net/http's Close reads what is left of
// the body, at the client's pace; a body not read to its end is therefore
// only marked closed here, and what is left of it is dealt with when the
// response goes out, as for a body the handler never touched.
func (b *body) Close() error {
	if b.q.h2 {
		return b.rc.Close()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.releaseStash()
	if !b.eof {
		return nil
	}
	b.rcClosed = true
	return b.rc.Close()
}

// releaseStash gives back the buffer of bytes a drain set aside. Called with
// mu held.
func (b *body) releaseStash() {
	if b.stashBuf != nil {
		stashes.Put(b.stashBuf)
		b.stashBuf, b.stash = nil, nil
	}
}
