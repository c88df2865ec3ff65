package timeouts

import "io"

// body is a request body whose Reads are timed against the minimum rate.
type body struct {
	rc io.ReadCloser
	q  *request
}

// Read reads from the body; a Read the alarm cuts returns a [*RateError].
func (b *body) Read(p []byte) (int, error) {
	policed, err := b.q.beginRead()
	if err != nil {
		return 0, err
	}
	if !policed {
		return b.rc.Read(p)
	}
	n, err := b.rc.Read(p)
	return b.q.endRead(n, err)
}

// Close closes the underlying body.
func (b *body) Close() error { return b.rc.Close() }
