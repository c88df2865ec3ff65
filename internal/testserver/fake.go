package testserver

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// NopWriter is an http.ResponseWriter that discards everything and allocates
// nothing, for measuring a handler's own cost. Like net/http's writers it
// flushes, copies, takes read and write deadlines and enables full duplex.
type NopWriter struct{ H http.Header }

// NewNopWriter returns a NopWriter with an empty header.
func NewNopWriter() *NopWriter { return &NopWriter{H: http.Header{}} }

// Header returns the header map.
func (w *NopWriter) Header() http.Header { return w.H }

// Write discards p.
func (w *NopWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteString discards s.
func (w *NopWriter) WriteString(s string) (int, error) { return len(s), nil }

// WriteHeader does nothing.
func (w *NopWriter) WriteHeader(int) {}

// Flush does nothing.
func (w *NopWriter) Flush() {}

// ReadFrom discards r's contents.
func (w *NopWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// SetReadDeadline does nothing.
func (w *NopWriter) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing.
func (w *NopWriter) SetWriteDeadline(time.Time) error { return nil }

// EnableFullDuplex does nothing.
func (w *NopWriter) EnableFullDuplex() error { return nil }

// RewindBody is a request body that can be read again without allocating.
type RewindBody struct {
	bytes.Reader
	data []byte
}

// NewRewindBody returns a body holding data.
func NewRewindBody(data []byte) *RewindBody {
	b := &RewindBody{data: data}
	b.Rewind()
	return b
}

// Rewind makes the whole body readable again.
func (b *RewindBody) Rewind() { b.Reset(b.data) }

// Close does nothing.
func (*RewindBody) Close() error { return nil }
