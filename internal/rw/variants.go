package rw

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// The fifteen shapes a Writer takes, one per non-empty set of the wrapped
// writer's optional interfaces: f for http.Flusher, h for http.Hijacker, r for
// io.ReaderFrom and p for http.Pusher. Each holds only a *Writer, so it is
// pointer-shaped and storing it in an interface does not allocate.
type (
	f    struct{ *Writer }
	h    struct{ *Writer }
	fh   struct{ *Writer }
	r    struct{ *Writer }
	fr   struct{ *Writer }
	hr   struct{ *Writer }
	fhr  struct{ *Writer }
	p    struct{ *Writer }
	fp   struct{ *Writer }
	hp   struct{ *Writer }
	fhp  struct{ *Writer }
	rp   struct{ *Writer }
	frp  struct{ *Writer }
	hrp  struct{ *Writer }
	fhrp struct{ *Writer }
)

func (w f) Flush()            { _ = w.flush() }
func (w f) FlushError() error { return w.flush() }

func (w h) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

func (w fh) Flush()                                       { _ = w.flush() }
func (w fh) FlushError() error                            { return w.flush() }
func (w fh) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

func (w r) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

func (w fr) Flush()                                { _ = w.flush() }
func (w fr) FlushError() error                     { return w.flush() }
func (w fr) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

func (w hr) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w hr) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w fhr) Flush()                                       { _ = w.flush() }
func (w fhr) FlushError() error                            { return w.flush() }
func (w fhr) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w fhr) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w p) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w fp) Flush()                                           { _ = w.flush() }
func (w fp) FlushError() error                                { return w.flush() }
func (w fp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w hp) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w hp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w fhp) Flush()                                           { _ = w.flush() }
func (w fhp) FlushError() error                                { return w.flush() }
func (w fhp) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w fhp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w rp) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w rp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w frp) Flush()                                           { _ = w.flush() }
func (w frp) FlushError() error                                { return w.flush() }
func (w frp) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w frp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w hrp) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w hrp) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w hrp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w fhrp) Flush()                                           { _ = w.flush() }
func (w fhrp) FlushError() error                                { return w.flush() }
func (w fhrp) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w fhrp) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w fhrp) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }
