package h1wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// step is one stop of the parser over a stream: an event at an offset.
type step struct {
	at  int
	ev  event
	why Reason
}

// follow runs a fresh parser with s over stream, fed in pieces whose sizes
// come from sizes (cycled; 0 means the rest), as reads would deliver them,
// and returns its stops, up to and including the first decision. The last
// step is evMore at len(stream) if the stream ran out first.
func follow(s *settings, stream []byte, sizes []byte) []step {
	p := parser{s: s, fresh: true}
	var out []step
	at, k := 0, 0
	for at < len(stream) {
		n := len(stream) - at
		if len(sizes) > 0 {
			if sz := int(sizes[k%len(sizes)]); sz > 0 && sz < n {
				n = sz
			}
			k++
		}
		piece := stream[at : at+n]
		for len(piece) > 0 {
			m, ev := p.feed(piece)
			piece = piece[m:]
			at += m
			if ev == evMore {
				break
			}
			out = append(out, step{at: at, ev: ev, why: p.why})
			if ev != evHead && ev != evEnd {
				return out
			}
			if ev == evEnd {
				// A read stops at the end of a request: the next piece
				// starts after it.
				break
			}
		}
	}
	return append(out, step{at: at, ev: evMore})
}

// netReq is what net/http made of one request of a stream.
type netReq struct {
	start, head, end int // offsets: request start, head end, request end
	refused          bool
	bodyErr          error
	pri              bool // "PRI * HTTP/2.0" without fields: net/http stops after it
	chunked          bool
	trailerStart     int // for chunked bodies: where the section after the last chunk starts
}

// netHTTP reads stream as net/http's server does: http.ReadRequest through a
// 4 KiB bufio.Reader, the server's own checks, the body read to its end, and
// the CRs and LFs skipped after a POST.
func netHTTP(stream []byte) []netReq {
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 4096)
	pos := func() int { return len(stream) - src.Len() - br.Buffered() }
	var out []netReq
	lastPOST := false
	for pos() < len(stream) {
		if lastPOST {
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			_, _ = br.Discard(n)
			if pos() == len(stream) {
				break
			}
		}
		r := netReq{start: pos()}
		req, err := http.ReadRequest(br)
		if err != nil {
			r.refused = true
			return append(out, r)
		}
		r.head = pos()
		isPRI := req.Method == "PRI" && req.RequestURI == "*" && req.Proto == "HTTP/2.0"
		if req.ProtoMajor != 1 && !isPRI {
			// http1ServerSupportsRequest: 505.
			r.refused = true
			return append(out, r)
		}
		if isPRI && len(req.Header) == 0 {
			r.pri = true
			return append(out, r)
		}
		r.chunked = len(req.TransferEncoding) > 0
		r.bodyErr = readBody(req.Body, br, pos, &r)
		r.end = pos()
		out = append(out, r)
		if r.bodyErr != nil {
			return out
		}
		lastPOST = req.Method == "POST"
	}
	return out
}

// readBody reads body to its end, noting where a chunked body's last chunk
// ends.
func readBody(body io.ReadCloser, br *bufio.Reader, pos func() int, r *netReq) error {
	buf := make([]byte, 512)
	for {
		if r.chunked {
			r.trailerStart = pos()
		}
		_, err := body.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// checkFraming asserts that the parser with s agrees with net/http on
// stream, fed in pieces of sizes.
func checkFraming(t *testing.T, s *settings, stream, sizes []byte) {
	t.Helper()
	ours := follow(s, stream, sizes)
	theirs := netHTTP(stream)
	si := 0
	next := func() step { st := ours[si]; si++; return st }
	for i, r := range theirs {
		st := next()
		if r.refused {
			// net/http answers the head itself and closes: whatever the
			// parser made of it no longer matters, unless it framed a body
			// net/http never reads.
			return
		}
		if st.ev == evReject {
			return // a rule of Kestrel's on a head net/http takes
		}
		if st.ev == evMore {
			if st.at != len(stream) {
				t.Fatalf("request %d: parser stopped at %d of %d without an event", i, st.at, len(stream))
			}
			return // the stream ended inside the head
		}
		if r.pri {
			if st.ev != evPass || st.at != r.head {
				t.Fatalf("request %d: HTTP/2 preface: parser %+v, want evPass at %d", i, st, r.head)
			}
			return
		}
		if st.ev == evPass && !s.checks && folded(stream[r.start:r.head]) {
			return // without the checks, a folded line ends the following
		}
		if st.ev == evPass {
			t.Fatalf("request %d: parser stopped following at %d a head net/http takes (%d..%d)", i, st.at, r.start, r.head)
		}
		if st.at != r.head && !(st.ev == evEnd && st.at == r.end && r.head == r.end) {
			t.Fatalf("request %d: head ends at %d for net/http, parser %+v", i, r.head, st)
		}
		if st.ev == evHead {
			st = next()
		}
		switch {
		case st.ev == evPass && !s.checks && r.chunked:
			return // without the checks, a folded trailer ends the following
		case r.bodyErr == nil && st.ev == evEnd:
			if st.at != r.end {
				t.Fatalf("request %d: ends at %d for net/http, at %d for the parser", i, r.end, st.at)
			}
		case r.bodyErr == nil && st.ev == evFail && st.why != ReasonInvalidChunkedBody:
			return // a rule of Kestrel's on trailers net/http takes
		case r.bodyErr == nil && st.ev == evFail && r.chunked && !bytes.HasSuffix(stream[r.trailerStart:r.end], []byte("\r\n\r\n")):
			// Trailers that do not end with CRLFCRLF: net/http found one
			// beyond the request, which the parser refuses to look for.
			return
		case r.bodyErr == nil:
			t.Fatalf("request %d: net/http reads the body to %d, parser %+v", i, r.end, st)
		case st.ev == evFail:
			return
		case st.ev == evMore && st.at == len(stream) && ranOut(r, stream):
			return
		case st.ev == evEnd:
			t.Fatalf("request %d: net/http fails the body (%v), parser ends it at %d", i, r.bodyErr, st.at)
		default:
			t.Fatalf("request %d: net/http fails the body (%v), parser %+v", i, r.bodyErr, st)
		}
	}
	if si < len(ours) {
		if st := ours[si]; st.ev != evMore {
			t.Fatalf("parser %+v after net/http's last request", st)
		}
	}
}

// ranOut reports whether net/http failed r's body because the stream ended:
// on a connection, it would have waited for more.
func ranOut(r netReq, stream []byte) bool {
	err := r.bodyErr
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
		return true
	}
	return strings.Contains(err.Error(), "suspiciously long trailer") && len(stream)-r.trailerStart < maxTrailers
}

var (
	offSettings     = settings{line: -1, block: -1, fields: -1, checks: true}
	defaultSettings = New(Config{}).s
	timersSettings  = New(Config{Parts: PartTimers}).s
)

// folded reports whether a head has a field line that starts with a space or
// a tab.
func folded(head []byte) bool {
	return bytes.Contains(head, []byte("\n ")) || bytes.Contains(head, []byte("\n\t"))
}

// framingSeeds cover each framing rule, alone and pipelined.
var framingSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3 \r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nok",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
	"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
	"\x16\x03\x01\x00\x05hello",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"GET / HTTP/1.5\r\nHost: a\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a=b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
	"GET /" + strings.Repeat("x", 10000) + " HTTP/1.1\r\nHost: " + strings.Repeat("a", 10000) + "\r\nContent-Length: 1\r\n\r\nxGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 5000) + "\r\na\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("x", 100)+"\r\na\r\n", 250) + "0\r\n\r\n",
}

func FuzzFraming(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s), []byte{})
		f.Add([]byte(s), []byte{1})
		f.Add([]byte(s), []byte{7, 3, 200})
	}
	f.Fuzz(func(t *testing.T, stream, sizes []byte) {
		checkFraming(t, &offSettings, stream, sizes)
		checkFraming(t, &defaultSettings, stream, sizes)
		checkFraming(t, &timersSettings, stream, sizes)
	})
}
