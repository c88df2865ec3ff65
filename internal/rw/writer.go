// Package rw holds windhover's one http.ResponseWriter wrapper.
//
// A policy that must see what a handler does with its response (the status it
// sends, the bytes it writes, whether it hijacks the connection) embeds a
// [Writer] in its per-request state, calls [Writer.Reset] and hands the handler
// [Writer.ResponseWriter]. The value handed out has exactly the optional
// interfaces of the wrapped writer (http.Flusher, http.Hijacker, io.ReaderFrom,
// http.Pusher) and an Unwrap method, so http.ResponseController and
// feature detection by type assertion behave as if the wrapper were absent.
//
// Embedding the Writer in the caller's own state keeps the cost to the one
// allocation that state needs anyway: the value returned by ResponseWriter is
// pointer-shaped and converts to an interface without allocating.
package rw

import (
	"bufio"
	"io"
	"iter"
	"math"
	"net"
	"net/http"

	"github.com/windhover/windhover/internal/clock"
)

// Hooks receives a Writer's events. The Writer calls them on the goroutine
// that called the ResponseWriter method, which for a well-behaved handler is
// one goroutine at a time. Embed [NopHooks] to implement only some of them.
type Hooks interface {
	// WriteHeader is called once, with the first final status code, just
	// before it is sent: explicitly by WriteHeader or implicitly (200) by the
	// first Write, ReadFrom or Flush. The header map may still be changed.
	// Informational (1xx other than 101) statuses do not call it.
	WriteHeader(code int)

	// BeginWrite is called before bytes go to the wrapped writer: n bytes of
	// body from Write or WriteString, at most n from a chunk of ReadFrom (-1
	// for a whole ReadFrom of unknown size), or 0 for a Flush. With a chunk
	// size set, it is called once per chunk.
	BeginWrite(n int64)

	// EndWrite is called after each write that BeginWrite announced, with
	// the count of body bytes written and the error.
	EndWrite(n int64, err error)

	// Hijacked is called after a successful Hijack with the connection the
	// wrapped writer returned. The connection it returns is handed to the
	// handler in its place (to learn when it closes, say).
	Hijacked(c net.Conn) net.Conn
}

// NopHooks implements every method of [Hooks] by doing nothing.
type NopHooks struct{}

// WriteHeader does nothing.
func (NopHooks) WriteHeader(int) {}

// BeginWrite does nothing.
func (NopHooks) BeginWrite(int64) {}

// EndWrite does nothing.
func (NopHooks) EndWrite(int64, error) {}

// Hijacked returns c unchanged.
func (NopHooks) Hijacked(c net.Conn) net.Conn { return c }

// optional interfaces of the wrapped writer, as bits.
const (
	hasFlusher = 1 << iota
	hasHijacker
	hasReaderFrom
	hasPusher
)

// Writer wraps an http.ResponseWriter, records its status and byte count and
// reports them to its [Hooks]. The zero Writer is not usable: call Reset.
// A Writer must not be copied after Reset.
type Writer struct {
	inner      http.ResponseWriter
	hooks      Hooks
	readings   *clock.Readings // the composition's shared readings, if any
	written    int64
	chunk      int64
	status     int32
	hijacked   bool
	headerUsed bool
	kinds      uint8
	lr         io.LimitedReader // the chunk of a ReadFrom, kept here so as not to allocate
}

// Reset makes w wrap inner and report to hooks (nil for none), forgetting any
// earlier state.
func (w *Writer) Reset(inner http.ResponseWriter, hooks Hooks) {
	if hooks == nil {
		hooks = NopHooks{}
	}
	*w = Writer{inner: inner, hooks: hooks, kinds: kindsOf(inner)}
}

// kindsOf returns the optional interfaces inner offers, as bits.
func kindsOf(inner http.ResponseWriter) uint8 {
	if x, ok := inner.(interface{ writer() *Writer }); ok {
		// Another Writer's shape offers exactly that Writer's optional
		// interfaces, and a bare *Writer none: one look instead of four
		// where policies' Writers nest.
		if _, bare := inner.(*Writer); bare {
			return 0
		}
		return x.writer().kinds
	}
	return askKinds(inner)
}

// askKinds asks inner, by type assertions, which optional interfaces it
// offers.
func askKinds(inner http.ResponseWriter) uint8 {
	var kinds uint8
	if _, ok := inner.(http.Flusher); ok {
		kinds |= hasFlusher
	}
	if _, ok := inner.(http.Hijacker); ok {
		kinds |= hasHijacker
	}
	if _, ok := inner.(io.ReaderFrom); ok {
		kinds |= hasReaderFrom
	}
	if _, ok := inner.(http.Pusher); ok {
		kinds |= hasPusher
	}
	return kinds
}

// SetReadings makes w carry the shared readings p: see [clock.Readings].
func (w *Writer) SetReadings(p *clock.Readings) { w.readings = p }

// ReadingsOf returns the shared readings of the nearest Writer among w and
// the writers it wraps (by their Unwrap methods) that carries any, or nil.
func ReadingsOf(w http.ResponseWriter) *clock.Readings {
	if p := Own(w); p != nil {
		return p // the Writer directly outside, in Harden's chain for most requests
	}
	for x := range writers(w) {
		if x.readings != nil {
			return x.readings
		}
	}
	return nil
}

// Own returns the readings that w itself carries, if w is a Writer that
// carries some, and otherwise nil: a policy that decides with the arrival
// time takes it only from the handler directly outside it, never from
// further out.
func Own(w http.ResponseWriter) *clock.Readings {
	if iw, ok := w.(interface{ writer() *Writer }); ok {
		return iw.writer().readings
	}
	return nil
}

// SetChunkSize makes w split writes larger than n bytes (Write, WriteString
// and ReadFrom alike) into chunks of at most n bytes, each announced to the
// hooks on its own, so that a policy can time them one by one. Zero, the
// default, writes whole.
func (w *Writer) SetChunkSize(n int) { w.chunk = int64(n) }

// Hooks returns the hooks w reports to.
func (w *Writer) Hooks() Hooks { return w.hooks }

// writer gives Find a way from any shape of Writer back to it. Being
// unexported, no type outside this package can claim to be a Writer.
func (w *Writer) writer() *Writer { return w }

// Find looks through w and the writers it wraps (by their Unwrap methods) for
// a Writer whose hooks are a T, and returns those hooks. A policy uses it to
// reach its per-request state from the ResponseWriter a handler holds.
func Find[T Hooks](w http.ResponseWriter) (T, bool) {
	for x := range writers(w) {
		if h, ok := x.hooks.(T); ok {
			return h, true
		}
	}
	var zero T
	return zero, false
}

// writers yields the Writers among w and the writers it wraps, outermost
// first, following Unwrap methods through wrappers of other kinds, 32 deep
// at most.
func writers(w http.ResponseWriter) iter.Seq[*Writer] {
	return func(yield func(*Writer) bool) {
		for range 32 {
			if x, ok := w.(interface{ writer() *Writer }); ok && !yield(x.writer()) {
				return
			}
			u, ok := w.(interface{ Unwrap() http.ResponseWriter })
			if !ok {
				return
			}
			w = u.Unwrap()
		}
	}
}

// IsWriter reports whether w is one of the shapes of a Writer.
func IsWriter(w http.ResponseWriter) bool {
	_, ok := w.(interface{ writer() *Writer })
	return ok
}

// Status returns the first final status code written, or 0 if none has been.
func (w *Writer) Status() int { return int(w.status) }

// WroteHeader reports whether a final status has been written.
func (w *Writer) WroteHeader() bool { return w.status != 0 }

// Written returns the number of body bytes written so far.
func (w *Writer) Written() int64 { return w.written }

// Hijacked reports whether the connection was hijacked through w.
func (w *Writer) Hijacked() bool { return w.hijacked }

// Committed reports whether the response can no longer be changed: a final
// status went out or the connection was hijacked.
func (w *Writer) Committed() bool { return w.status != 0 || w.hijacked }

// Header returns the wrapped writer's header map.
func (w *Writer) Header() http.Header {
	w.headerUsed = true
	return w.inner.Header()
}

// HeaderUsed reports whether Header has been called through w. A hook that
// wants to look at the header should not be the first to call it: net/http
// copies the header map of a response whose Header was called.
func (w *Writer) HeaderUsed() bool { return w.headerUsed }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.inner }

// WriteHeader records the first final status and passes code on.
func (w *Writer) WriteHeader(code int) {
	if w.status == 0 && !w.hijacked && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.status = int32(min(max(code, math.MinInt32), math.MaxInt32)) // net/http refuses it anyway: not wrapped into a valid one
		w.hooks.WriteHeader(code)
	}
	w.inner.WriteHeader(code)
}

// implicitHeader records the implicit 200 that the wrapped writer is about to send.
func (w *Writer) implicitHeader() {
	if w.status == 0 && !w.hijacked {
		w.status = http.StatusOK
		w.hooks.WriteHeader(http.StatusOK)
	}
}

// Write writes p to the wrapped writer.
func (w *Writer) Write(p []byte) (int, error) {
	w.implicitHeader()
	if w.chunk > 0 && int64(len(p)) > w.chunk {
		return w.writeChunks(p)
	}
	w.hooks.BeginWrite(int64(len(p)))
	n, err := w.inner.Write(p)
	w.wrote(int64(n), err)
	return n, err
}

func (w *Writer) writeChunks(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		c := p[:min(int64(len(p)), w.chunk)]
		w.hooks.BeginWrite(int64(len(c)))
		n, err := w.inner.Write(c)
		w.wrote(int64(n), err)
		total += n
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}

// WriteString writes s to the wrapped writer, through its WriteString method
// when it has one. Every writer net/http hands a handler has that method, so
// offering io.StringWriter changes no behaviour and spares io.WriteString a
// copy.
func (w *Writer) WriteString(s string) (int, error) {
	sw, ok := w.inner.(io.StringWriter)
	if !ok {
		return w.Write([]byte(s))
	}
	w.implicitHeader()
	total := 0
	for {
		c := s
		if w.chunk > 0 && int64(len(c)) > w.chunk {
			c = s[:w.chunk]
		}
		w.hooks.BeginWrite(int64(len(c)))
		n, err := sw.WriteString(c)
		w.wrote(int64(n), err)
		total += n
		s = s[n:]
		if err != nil || len(s) == 0 {
			return total, err
		}
	}
}

func (w *Writer) wrote(n int64, err error) {
	w.written += n
	w.hooks.EndWrite(n, err)
}

func (w *Writer) flush() error {
	w.implicitHeader()
	w.hooks.BeginWrite(0)
	var err error
	if fe, ok := w.inner.(interface{ FlushError() error }); ok {
		err = fe.FlushError()
	} else {
		w.inner.(http.Flusher).Flush()
	}
	w.hooks.EndWrite(0, err)
	return err
}

func (w *Writer) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.inner.(http.Hijacker).Hijack()
	if err != nil {
		return c, brw, err
	}
	w.hijacked = true
	return w.hooks.Hijacked(c), brw, nil
}

func (w *Writer) readFrom(src io.Reader) (int64, error) {
	w.implicitHeader()
	rf := w.inner.(io.ReaderFrom)
	if w.chunk == 0 {
		w.hooks.BeginWrite(-1)
		n, err := rf.ReadFrom(src)
		w.wrote(n, err)
		return n, err
	}
	// net/http's sendfile and splice paths see through an
	// *io.LimitedReader, so chunks keep the zero-copy path.
	var total int64
	for {
		w.lr = io.LimitedReader{R: src, N: w.chunk}
		w.hooks.BeginWrite(w.chunk)
		n, err := rf.ReadFrom(&w.lr)
		w.wrote(n, err)
		total += n
		if err != nil || n < w.chunk {
			w.lr = io.LimitedReader{}
			return total, err
		}
	}
}

func (w *Writer) push(target string, opts *http.PushOptions) error {
	return w.inner.(http.Pusher).Push(target, opts)
}

// ResponseWriter returns w as an http.ResponseWriter with exactly the optional
// interfaces (http.Flusher, http.Hijacker, io.ReaderFrom, http.Pusher) of the
// writer it wraps. The result does not allocate.
func (w *Writer) ResponseWriter() http.ResponseWriter {
	switch w.kinds {
	case 0:
		return w
	case hasFlusher:
		return f{w}
	case hasHijacker:
		return h{w}
	case hasFlusher | hasHijacker:
		return fh{w}
	case hasReaderFrom:
		return r{w}
	case hasFlusher | hasReaderFrom:
		return fr{w}
	case hasHijacker | hasReaderFrom:
		return hr{w}
	case hasFlusher | hasHijacker | hasReaderFrom:
		return fhr{w}
	case hasPusher:
		return p{w}
	case hasFlusher | hasPusher:
		return fp{w}
	case hasHijacker | hasPusher:
		return hp{w}
	case hasFlusher | hasHijacker | hasPusher:
		return fhp{w}
	case hasReaderFrom | hasPusher:
		return rp{w}
	case hasFlusher | hasReaderFrom | hasPusher:
		return frp{w}
	case hasHijacker | hasReaderFrom | hasPusher:
		return hrp{w}
	default:
		return fhrp{w}
	}
}
