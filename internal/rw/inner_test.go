package rw

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// One fake inner writer per set of optional interfaces, so that the tests can
// hand the Writer every combination net/http or a middleware might produce.
type (
	inner00 struct{ *fake }
	inner01 struct{ *fake }
	inner02 struct{ *fake }
	inner03 struct{ *fake }
	inner04 struct{ *fake }
	inner05 struct{ *fake }
	inner06 struct{ *fake }
	inner07 struct{ *fake }
	inner08 struct{ *fake }
	inner09 struct{ *fake }
	inner10 struct{ *fake }
	inner11 struct{ *fake }
	inner12 struct{ *fake }
	inner13 struct{ *fake }
	inner14 struct{ *fake }
	inner15 struct{ *fake }
)

func (w inner01) Flush() { w.flush() }

func (w inner02) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

func (w inner03) Flush()                                       { w.flush() }
func (w inner03) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

func (w inner04) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

func (w inner05) Flush()                                { w.flush() }
func (w inner05) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

func (w inner06) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w inner06) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w inner07) Flush()                                       { w.flush() }
func (w inner07) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w inner07) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w inner08) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner09) Flush()                                           { w.flush() }
func (w inner09) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner10) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w inner10) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner11) Flush()                                           { w.flush() }
func (w inner11) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w inner11) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner12) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w inner12) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner13) Flush()                                           { w.flush() }
func (w inner13) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w inner13) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner14) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w inner14) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w inner14) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func (w inner15) Flush()                                           { w.flush() }
func (w inner15) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w inner15) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w inner15) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

func newInner(kinds uint8, fk *fake) http.ResponseWriter {
	switch kinds {
	case 0:
		return inner00{fk}
	case 1:
		return inner01{fk}
	case 2:
		return inner02{fk}
	case 3:
		return inner03{fk}
	case 4:
		return inner04{fk}
	case 5:
		return inner05{fk}
	case 6:
		return inner06{fk}
	case 7:
		return inner07{fk}
	case 8:
		return inner08{fk}
	case 9:
		return inner09{fk}
	case 10:
		return inner10{fk}
	case 11:
		return inner11{fk}
	case 12:
		return inner12{fk}
	case 13:
		return inner13{fk}
	case 14:
		return inner14{fk}
	case 15:
		return inner15{fk}
	}
	panic("rw test: bad kinds")
}
