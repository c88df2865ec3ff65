package rw

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is an inner ResponseWriter that records what reached it.
type fake struct {
	header    http.Header
	codes     []int
	body      bytes.Buffer
	flushes   int
	hijacks   int
	pushes    []string
	readFroms int
	conn      net.Conn
	deadline  time.Time
}

func newFake() *fake { return &fake{header: http.Header{}} }

func (f *fake) Header() http.Header         { return f.header }
func (f *fake) WriteHeader(code int)        { f.codes = append(f.codes, code) }
func (f *fake) Write(p []byte) (int, error) { return f.body.Write(p) }
func (f *fake) flush()                      { f.flushes++ }
func (f *fake) hijack() (net.Conn, *bufio.ReadWriter, error) {
	f.hijacks++
	return f.conn, nil, nil
}
func (f *fake) readFrom(src io.Reader) (int64, error) {
	f.readFroms++
	return io.Copy(&f.body, src)
}
func (f *fake) push(target string, _ *http.PushOptions) error {
	f.pushes = append(f.pushes, target)
	return nil
}
func (f *fake) SetWriteDeadline(t time.Time) error { f.deadline = t; return nil }

// recorder is a Hooks that records every call.
type recorder struct {
	headers []int
	begun   []int64
	wrote   []int64
	conns   []net.Conn
	swap    net.Conn
}

func (r *recorder) WriteHeader(code int)        { r.headers = append(r.headers, code) }
func (r *recorder) BeginWrite(n int64)          { r.begun = append(r.begun, n) }
func (r *recorder) EndWrite(n int64, err error) { r.wrote = append(r.wrote, n) }
func (r *recorder) Hijacked(c net.Conn) net.Conn {
	r.conns = append(r.conns, c)
	if r.swap != nil {
		return r.swap
	}
	return c
}

func TestOptionalInterfacesEveryCombination(t *testing.T) {
	for kinds := uint8(0); kinds < 16; kinds++ {
		fk := newFake()
		inner := newInner(kinds, fk)
		var w Writer
		w.Reset(inner, nil)
		out := w.ResponseWriter()

		_, isF := out.(http.Flusher)
		_, isH := out.(http.Hijacker)
		_, isR := out.(io.ReaderFrom)
		_, isP := out.(http.Pusher)
		_, isFE := out.(interface{ FlushError() error })
		assert.Equal(t, kinds&hasFlusher != 0, isF, "kinds %04b: Flusher", kinds)
		assert.Equal(t, kinds&hasFlusher != 0, isFE, "kinds %04b: FlushError", kinds)
		assert.Equal(t, kinds&hasHijacker != 0, isH, "kinds %04b: Hijacker", kinds)
		assert.Equal(t, kinds&hasReaderFrom != 0, isR, "kinds %04b: ReaderFrom", kinds)
		assert.Equal(t, kinds&hasPusher != 0, isP, "kinds %04b: Pusher", kinds)

		u, ok := out.(interface{ Unwrap() http.ResponseWriter })
		require.True(t, ok, "kinds %04b: Unwrap", kinds)
		assert.Equal(t, inner, u.Unwrap())

		// Each optional method reaches the inner writer.
		if isF {
			out.(http.Flusher).Flush()
			assert.Equal(t, 1, fk.flushes)
		}
		if isR {
			n, err := out.(io.ReaderFrom).ReadFrom(strings.NewReader("abc"))
			require.NoError(t, err)
			assert.EqualValues(t, 3, n)
			assert.Equal(t, 1, fk.readFroms)
		}
		if isP {
			require.NoError(t, out.(http.Pusher).Push("/x", nil))
			assert.Equal(t, []string{"/x"}, fk.pushes)
		}
		if isH {
			_, _, err := out.(http.Hijacker).Hijack()
			require.NoError(t, err)
			assert.Equal(t, 1, fk.hijacks)
			assert.True(t, w.Hijacked())
		}
	}
}

func TestResponseControllerThroughWriter(t *testing.T) {
	for kinds := uint8(0); kinds < 16; kinds++ {
		fk := newFake()
		var w Writer
		w.Reset(newInner(kinds, fk), nil)
		rc := http.NewResponseController(w.ResponseWriter())

		err := rc.Flush()
		if kinds&hasFlusher != 0 {
			require.NoError(t, err, "kinds %04b", kinds)
			assert.Equal(t, 1, fk.flushes)
			assert.Equal(t, http.StatusOK, w.Status(), "a flush sends the implicit 200")
		} else {
			assert.ErrorIs(t, err, http.ErrNotSupported, "kinds %04b", kinds)
		}

		// Deadlines are not the Writer's business: Unwrap lets the controller
		// reach the inner writer's method.
		d := time.Now().Add(time.Minute)
		require.NoError(t, rc.SetWriteDeadline(d))
		assert.True(t, fk.deadline.Equal(d))

		_, _, err = rc.Hijack()
		if kinds&hasHijacker != 0 {
			require.NoError(t, err)
			assert.True(t, w.Hijacked())
		} else {
			assert.ErrorIs(t, err, http.ErrNotSupported)
		}
	}
}

func TestStatusCapture(t *testing.T) {
	tests := []struct {
		name   string
		do     func(w http.ResponseWriter)
		status int
		hooked []int
		codes  []int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0, nil, nil},
		{"implicit 200 on Write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, 200, []int{200}, nil},
		{"implicit 200 on empty Write", func(w http.ResponseWriter) { _, _ = w.Write(nil) }, 200, []int{200}, nil},
		{"implicit 200 on WriteString", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "x") }, 200, []int{200}, nil},
		{"implicit 200 on ReadFrom", func(w http.ResponseWriter) {
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("x"))
		}, 200, []int{200}, nil},
		{"explicit", func(w http.ResponseWriter) { w.WriteHeader(404) }, 404, []int{404}, []int{404}},
		{"first final wins", func(w http.ResponseWriter) {
			w.WriteHeader(500)
			w.WriteHeader(200)
		}, 500, []int{500}, []int{500, 200}},
		{"1xx ignored", func(w http.ResponseWriter) {
			w.WriteHeader(103)
			w.WriteHeader(100)
			w.WriteHeader(201)
		}, 201, []int{201}, []int{103, 100, 201}},
		{"101 is final", func(w http.ResponseWriter) { w.WriteHeader(101) }, 101, []int{101}, []int{101}},
		{"write after explicit", func(w http.ResponseWriter) {
			w.WriteHeader(202)
			_, _ = w.Write([]byte("x"))
		}, 202, []int{202}, []int{202}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fk := newFake()
			var rec recorder
			var w Writer
			w.Reset(newInner(hasFlusher|hasReaderFrom, fk), &rec)
			tt.do(w.ResponseWriter())
			assert.Equal(t, tt.status, w.Status())
			assert.Equal(t, tt.status != 0, w.WroteHeader())
			assert.Equal(t, tt.hooked, rec.headers)
			assert.Equal(t, tt.codes, fk.codes, "every WriteHeader call reaches the inner writer")
		})
	}
}

func TestWriteCountingAndHooks(t *testing.T) {
	fk := newFake()
	var rec recorder
	var w Writer
	w.Reset(newInner(hasReaderFrom, fk), &rec)
	out := w.ResponseWriter()
	_, _ = out.Write([]byte("hello"))
	_, _ = io.WriteString(out, " world")
	_, _ = io.Copy(out, io.LimitReader(strings.NewReader("!!!!"), 3))
	assert.EqualValues(t, 14, w.Written())
	assert.Equal(t, []int64{5, 6, -1}, rec.begun)
	assert.Equal(t, []int64{5, 6, 3}, rec.wrote)
	assert.Equal(t, "hello world!!!", fk.body.String())
}

func TestChunkedWrites(t *testing.T) {
	for _, kinds := range []uint8{0, hasReaderFrom} {
		fk := newFake()
		var rec recorder
		var w Writer
		w.Reset(newInner(kinds, fk), &rec)
		w.SetChunkSize(4)
		out := w.ResponseWriter()
		_, _ = out.Write([]byte("0123456789"))
		_, _ = io.WriteString(out, "abcdefghij")
		_, _ = out.Write([]byte("xy"))
		assert.Equal(t, []int64{4, 4, 2, 4, 4, 2, 2}, rec.begun[:7], "kinds %04b", kinds)
		assert.Equal(t, []int64{4, 4, 2, 4, 4, 2, 2}, rec.wrote[:7])
		if kinds&hasReaderFrom != 0 {
			n, err := out.(io.ReaderFrom).ReadFrom(strings.NewReader("ABCDEFGHI"))
			require.NoError(t, err)
			assert.EqualValues(t, 9, n)
			assert.Equal(t, []int64{4, 4, 4}, rec.begun[7:], "a last chunk that comes up short ends the copy")
			assert.Equal(t, []int64{4, 4, 1}, rec.wrote[7:])
			assert.Equal(t, 3, fk.readFroms)
		}
		assert.Equal(t, "0123456789abcdefghijxy", fk.body.String()[:22])
	}
}

func TestFlushReported(t *testing.T) {
	var rec recorder
	var w Writer
	w.Reset(newInner(hasFlusher, newFake()), &rec)
	w.ResponseWriter().(http.Flusher).Flush()
	assert.Equal(t, []int64{0}, rec.begun)
	assert.Equal(t, []int64{0}, rec.wrote)
}

type otherHooks struct{ NopHooks }

func TestFind(t *testing.T) {
	var rec recorder
	var inner Writer
	inner.Reset(newInner(hasFlusher, newFake()), &rec)
	var outer Writer
	outer.Reset(inner.ResponseWriter(), otherHooks{})

	got, ok := Find[*recorder](outer.ResponseWriter())
	require.True(t, ok, "found through the outer Writer")
	assert.Same(t, &rec, got)
	_, ok = Find[otherHooks](outer.ResponseWriter())
	assert.True(t, ok)
	_, ok = Find[*recorder](newFake())
	assert.False(t, ok)
}

// plainWriter has neither WriteString nor any optional interface.
type plainWriter struct{ fake }

func TestWriteStringWithoutInnerStringWriter(t *testing.T) {
	pw := &plainWriter{fake{header: http.Header{}}}
	var w Writer
	w.Reset(pw, nil)
	n, err := io.WriteString(w.ResponseWriter(), "abc")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, "abc", pw.body.String())
}

func TestHijackHookReplacesConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fk := newFake()
	fk.conn = a
	rec := recorder{swap: b}
	var w Writer
	w.Reset(newInner(hasHijacker, fk), &rec)
	c, _, err := w.ResponseWriter().(http.Hijacker).Hijack()
	require.NoError(t, err)
	assert.Equal(t, b, c, "the handler gets the hook's connection")
	assert.Equal(t, []net.Conn{a}, rec.conns)
	assert.True(t, w.Committed())
	assert.Equal(t, 0, w.Status())

	// A WriteHeader after the hijack is not recorded as the response status.
	w.WriteHeader(200)
	assert.Equal(t, 0, w.Status())
}

type failingHijacker struct{ *fake }

func (failingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("no")
}

func TestHijackFailureLeavesStateAlone(t *testing.T) {
	var rec recorder
	var w Writer
	w.Reset(failingHijacker{newFake()}, &rec)
	_, _, err := w.ResponseWriter().(http.Hijacker).Hijack()
	require.Error(t, err)
	assert.False(t, w.Hijacked())
	assert.Empty(t, rec.conns)
}

func TestRealServerWriters(t *testing.T) {
	// The writers net/http hands handlers over HTTP/1.1 and HTTP/2 keep their
	// interfaces through the wrapper.
	type seen struct{ f, h, r, p bool }
	check := func(w http.ResponseWriter) seen {
		var s seen
		_, s.f = w.(http.Flusher)
		_, s.h = w.(http.Hijacker)
		_, s.r = w.(io.ReaderFrom)
		_, s.p = w.(http.Pusher)
		return s
	}
	results := make(chan [2]seen, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wr Writer
		wr.Reset(w, nil)
		results <- [2]seen{check(w), check(wr.ResponseWriter())}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	for _, proto := range []string{"h1", "h2"} {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
			Protocols:       new(http.Protocols),
		}
		tr.Protocols.SetHTTP1(proto == "h1")
		tr.Protocols.SetHTTP2(proto == "h2")
		c := &http.Client{Transport: tr}
		res, err := c.Get(srv.URL)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, proto == "h2", res.ProtoMajor == 2)
		got := <-results
		assert.Equal(t, got[0], got[1], proto)
		tr.CloseIdleConnections()
	}
}

func TestResponseWriterDoesNotAllocate(t *testing.T) {
	var w Writer
	w.Reset(newInner(hasFlusher|hasHijacker|hasReaderFrom, newFake()), nil)
	var sink http.ResponseWriter
	allocs := testing.AllocsPerRun(100, func() {
		sink = w.ResponseWriter()
	})
	_ = sink
	assert.Zero(t, allocs)
}

func BenchmarkWriter(b *testing.B) {
	fk := newFake()
	inner := newInner(hasFlusher|hasHijacker|hasReaderFrom, fk)
	body := []byte("hello\n")
	b.ReportAllocs()
	var w Writer
	for b.Loop() {
		w.Reset(inner, nil)
		out := w.ResponseWriter()
		_, _ = out.Write(body)
		fk.body.Reset()
	}
}

func TestHeaderUsed(t *testing.T) {
	var w Writer
	w.Reset(newFake(), nil)
	_, _ = w.Write([]byte("x"))
	assert.False(t, w.HeaderUsed())
	w.Header().Set("X", "1")
	assert.True(t, w.HeaderUsed())
}

// TestNestedWriterKinds holds the shortcut by which a Writer that wraps
// another Writer's shape takes its optional interfaces from that Writer to
// what asking the shape itself gives: for every combination, the outer
// shape has exactly the interfaces of the inner one; and a bare *Writer,
// which has none of them, gives none.
func TestNestedWriterKinds(t *testing.T) {
	for kinds := uint8(0); kinds < 16; kinds++ {
		var inner, outer Writer
		inner.Reset(newInner(kinds, newFake()), nil)
		shape := inner.ResponseWriter()
		outer.Reset(shape, nil)
		assert.Equal(t, askKinds(shape), outer.kinds, "kinds %04b: outer of the shape", kinds)
		assert.Equal(t, kinds, askKinds(outer.ResponseWriter()), "kinds %04b: the outer shape", kinds)

		outer.Reset(&inner, nil) // the bare *Writer, not its shape
		assert.Zero(t, outer.kinds, "kinds %04b: outer of a bare *Writer", kinds)
	}
}
