package h1wire

import (
	"bytes"
	"math"
	"math/bits"
)

// event is what the parser found where it stopped.
type event uint8

const (
	// evMore: every byte given was consumed and the request goes on.
	evMore event = iota
	// evHead: the head ended at the offset returned, and a body follows.
	evHead
	// evEnd: the request ended at the offset returned (its head too, if it
	// has no body).
	evEnd
	// evReject: the head breaks one of Kestrel's rules (parser.why): answer
	// it and close.
	evReject
	// evFail: the body's framing is broken, or its trailers break a rule
	// (parser.why); reads fail from the offset returned.
	evFail
	// evPass: the rest of the connection is not for this parser to follow:
	// a TLS handshake, the HTTP/2 preface, or a head net/http refuses and
	// closes the connection after.
	evPass
)

// state is where the parser is in a request.
type state uint8

const (
	stStart      state = iota // before the request line
	stLine                    // in the request line
	stField                   // in a header field line, or at the blank line
	stBody                    // in a Content-Length body
	stChunkLine               // in a chunk-size line
	stChunkData               // in a chunk's data
	stChunkCR                 // at the CR after a chunk's data
	stChunkLF                 // at the LF after a chunk's data
	stTrailStart              // after the last chunk: CRLF, or trailers
	stTrailCR                 // after the CR of a final CRLF
	stTrailField              // in a trailer field line, or at the blank line
)

// Facts about the request line.
const (
	fLineBad   uint16 = 1 << iota // net/http refuses the request line
	fHTTP10                       // HTTP/1.0
	fPRI                          // "PRI * HTTP/2.0", the HTTP/2 preface's first line
	fPOST                         //
	fPUT                          //
	fCONNECT                      //
	fOPTIONS                      //
	fAbsolute                     // an absolute-form target; target holds its authority
	fHTTPS                        // the absolute-form target is https
	fAuthority                    // an authority-form target; target holds it
)

const (
	// tlsHandshake is the first byte of a TLS connection (a handshake record).
	tlsHandshake = 0x16
	// maxPOSTSkip is how many CR or LF bytes net/http skips before the
	// request after a POST (conn.readRequest peeks 4 bytes for them).
	maxPOSTSkip = 4
	// maxChunkLine is the longest chunk-size line, LF included, that
	// net/http reads: one bufio.Reader buffer.
	maxChunkLine = 4096
	// maxTrailers is the longest trailer section net/http reads: it must
	// find the section's CRLFCRLF within one bufio.Reader buffer.
	maxTrailers = 4096
	// maxExcess is how much chunk framing beyond 16 bytes per chunk and
	// twice the data net/http tolerates (internal.chunkedReader).
	maxExcess = 16 << 10
)

// parser follows HTTP/1 requests through the bytes a server reads: it counts
// the request line and the field lines as Kestrel does, checks Kestrel's
// rules on the head, and finds where each request ends exactly as net/http
// does (Content-Length, chunked framing and trailers, net/http's tolerance of
// CRLFs after a POST). It keeps no byte it does not need: a line is copied
// only when it spans two reads, and a body is skipped by its count.
//
// A parser is used by one goroutine at a time.
type parser struct {
	s     *settings
	st    state
	fresh bool  // nothing of the connection parsed yet
	skip  uint8 // CR or LF bytes still skippable before the request line
	// CR or LF bytes skipped before the request line: net/http counts
	// them among the four it peeks for before it times a head.
	skipped uint8

	line   int    // bytes of the current line so far
	block  int    // bytes of the header block and trailers so far
	fields int    // field lines so far, trailers included
	part   []byte // the current line's bytes from earlier reads

	flags  uint16
	target []byte // the authority the Host must match, if any
	hosts  int
	host   []byte // the first Host's value
	hostOK bool   // host is a value validHost accepted
	cls    int    // Content-Length field lines
	cl     []byte // the first Content-Length's value, trimmed
	clDiff bool   // the Content-Length lines differ
	tes    int    // Transfer-Encoding field lines
	teOK   bool   // the (first) Transfer-Encoding is "chunked"
	badTr  bool   // a Trailer field declares a field net/http refuses as a trailer

	remain uint64 // bytes of the Content-Length body or the chunk still to come
	excess int64  // net/http's count of excess chunk framing
	body   int64  // the body's bytes as Kestrel counts them
	trail  int    // bytes of the trailer section so far
	trCRLF bool   // the last trailer line ended with CRLF

	why Reason // for evReject and evFail
	lim int64  // the limit crossed, or -1
	got int64  // what crossed it, or -1
}

// feed follows b, the next bytes of the connection, and returns how many of
// them it consumed and why it stopped there: at the end of a head followed by
// a body, at the end of a request, at a decision, or at the end of b.
func (p *parser) feed(b []byte) (int, event) {
	i := 0
	for i < len(b) {
		switch p.st {
		case stStart:
			c := b[i]
			if p.skip > 0 && (c == '\r' || c == '\n') {
				p.skip--
				p.skipped++
				i++
				continue
			}
			p.skip = 0
			if p.fresh {
				p.fresh = false
				if c == tlsHandshake {
					return i, evPass
				}
			}
			p.st = stLine
		case stLine:
			if len(p.part) == 0 {
				// Most request lines end within 64 bytes, and the mask of
				// LFs that finds the end goes on to the field lines.
				if m := lfMask(b, i); m != 0 {
					n := bits.TrailingZeros64(m) + 1
					if p.s.line >= 0 && n > p.s.line {
						return i, p.reject(ReasonRequestLineTooLong, int64(p.s.line), int64(n))
					}
					if ev := p.requestLine(b[i : i+n]); ev != evMore {
						return i + n, ev
					}
					p.st = stField
					var ev event
					if i, ev = p.lines(b, i+n, i, m&(m-1)); ev != evMore || i == len(b) {
						return i, ev
					}
					continue
				}
			}
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				p.line += len(b) - i
				if p.s.line >= 0 && p.line >= p.s.line {
					// Kestrel refuses once it holds MaxRequestLineSize
					// bytes without the line's end.
					return i, p.reject(ReasonRequestLineTooLong, int64(p.s.line), int64(p.line))
				}
				p.keep(b[i:])
				return len(b), evMore
			}
			n := j + 1
			p.line += n
			if p.s.line >= 0 && p.line > p.s.line {
				return i, p.reject(ReasonRequestLineTooLong, int64(p.s.line), int64(p.line))
			}
			l := p.whole(b[i : i+n])
			i += n
			if ev := p.requestLine(l); ev != evMore {
				return i, ev
			}
			p.part, p.line, p.st = p.part[:0], 0, stField
		case stField:
			var ev event
			if i, ev = p.fieldLines(b, i); ev != evMore || i == len(b) {
				return i, ev
			}
		case stTrailField:
			l, next, ev := p.blockLine(b, i)
			if l == nil {
				return next, ev
			}
			i = next
			ev = p.trailerLine(l)
			p.part = p.part[:0]
			if ev != evMore {
				return i, ev
			}
		case stBody:
			n := uint64(len(b) - i)
			if n > p.remain {
				n = p.remain
			}
			i += int(n)
			p.remain -= n
			p.body += int64(n)
			if p.remain == 0 {
				p.end()
				return i, evEnd
			}
		case stChunkLine:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				n := len(b) - i
				p.line += n
				p.body += int64(n)
				if p.line >= maxChunkLine {
					return i, p.fail(ReasonInvalidChunkedBody)
				}
				p.keep(b[i:])
				return len(b), evMore
			}
			n := j + 1
			p.line += n
			p.body += int64(n)
			if p.line > maxChunkLine {
				return i, p.fail(ReasonInvalidChunkedBody)
			}
			l := p.whole(b[i : i+n])
			i += n
			ok := p.chunkSize(l)
			p.part, p.line = p.part[:0], 0
			switch {
			case !ok:
				return i, p.fail(ReasonInvalidChunkedBody)
			case p.remain == 0:
				p.st = stTrailStart
			default:
				p.st = stChunkData
			}
		case stChunkData:
			n := uint64(len(b) - i)
			if n > p.remain {
				n = p.remain
			}
			i += int(n)
			p.remain -= n
			p.body += int64(n)
			if p.remain == 0 {
				p.st = stChunkCR
			}
		case stChunkCR, stChunkLF:
			want := byte('\r')
			if p.st == stChunkLF {
				want = '\n'
			}
			if b[i] != want {
				return i, p.fail(ReasonInvalidChunkedBody)
			}
			i++
			p.body++
			if p.st == stChunkCR {
				p.st = stChunkLF
			} else {
				p.st = stChunkLine
			}
		case stTrailStart:
			switch b[i] {
			case '\r':
				i++
				p.st = stTrailCR
			case '\n':
				// net/http would look for a CRLFCRLF beyond this request.
				return i, p.fail(ReasonInvalidChunkedBody)
			default:
				p.st = stTrailField
			}
		case stTrailCR:
			if b[i] != '\n' {
				return i, p.fail(ReasonInvalidChunkedBody)
			}
			i++
			// Kestrel counts the final CRLF of a body without trailers.
			p.body += 2
			p.end()
			return i, evEnd
		}
	}
	return i, evMore
}

// fieldLines follows the head's field lines in b from i, in one loop: most
// heads arrive in one read, and most lines need only their first byte
// looked at. It returns where it stopped, with evMore at the end of b or
// where the head ended with the request (p.st is then no longer stField).
func (p *parser) fieldLines(b []byte, i int) (int, event) {
	if len(p.part) > 0 {
		// The rest of a line begun in an earlier read.
		l, next, ev := p.blockLine(b, i)
		if l == nil {
			return next, ev
		}
		i = next
		ev = p.headerLine(l)
		p.part = p.part[:0]
		if ev != evMore || p.st != stField || i == len(b) {
			return i, ev
		}
	}
	return p.lines(b, i, i, lfMask(b, i))
}

// lines follows field lines from i, their LFs found 64 bytes at a time
// from base: m holds those of b[base:base+64] from i on.
func (p *parser) lines(b []byte, i, base int, m uint64) (int, event) {
	// The counts live in registers while the lines go by.
	block, fields := p.block, p.fields
	maxBlock, maxFields := p.s.block, p.s.fields
	if maxBlock < 0 {
		maxBlock = math.MaxInt
	}
	if maxFields < 0 {
		maxFields = math.MaxInt
	}
	start := i // the current line's first byte
	for {
		for ; m != 0; m &= m - 1 {
			end := base + bits.TrailingZeros64(m) + 1
			block += end - start
			if block > maxBlock {
				p.block, p.fields = block, fields
				return start, p.reject(ReasonHeadersTooLarge, int64(p.s.block-2), int64(block-2))
			}
			// Most lines need only counting: a name that cannot be one
			// the checks or the framing depend on.
			switch kind := lineKinds[b[start]]; kind {
			case lineCount, lineName:
				fields++
				if fields > maxFields {
					p.block, p.fields = block, fields
					return end, p.reject(ReasonTooManyHeaders, int64(p.s.fields), int64(fields))
				}
				// A name the checks or the framing depend on ends with its
				// colon at a place its first letter tells; most lines
				// that start with the same letter (Connection, Content-Type)
				// have none there.
				if kind == lineName {
					if at := start + colonAt[b[start]]; at < end && b[at] == ':' || b[start]|0x20 == 't' {
						p.field(b[start:end])
					}
				}
			default:
				p.block, p.fields = block, fields
				if ev := p.headerLine(b[start:end]); ev != evMore || p.st != stField {
					return end, ev
				}
				fields = p.fields
			}
			start = end
		}
		if base += 64; base >= len(b) {
			break
		}
		m = lfMask(b, base)
	}
	p.block, p.fields = block, fields
	if start == len(b) {
		return start, evMore
	}
	// The last line goes on in the next read.
	if ev := p.grow(len(b) - start); ev != evMore {
		return start, ev
	}
	p.keep(b[start:])
	return len(b), evMore
}

// lfMask returns the positions of the LFs in b[base:base+64] (bit k for
// b[base+k]), those past len(b) left out. The bytes past len(b) in b's array
// are looked at, but not used; where the array ends first, a copy is.
func lfMask(b []byte, base int) uint64 {
	var m uint64
	if base+64 <= cap(b) {
		m = newlines((*[64]byte)(b[base : base+64]))
	} else {
		var tail [64]byte
		copy(tail[:], b[base:])
		m = newlines(&tail)
	}
	if r := len(b) - base; r < 64 {
		m &= 1<<r - 1
	}
	return m
}

// The kinds of field line, by their first byte.
const (
	// lineCount: a name that neither the checks nor the framing depend on;
	// the line is only counted.
	lineCount uint8 = iota
	// lineName: a name that may be Host, Content-Length, Transfer-Encoding
	// or Trailer.
	lineName
	// lineOther: CR or LF (perhaps the blank line), SP or HT (a fold).
	lineOther
)

// colonAt is where the colon of Host and Content-Length is, by the
// name's first letter; Transfer-Encoding and Trailer, rarer, are looked at
// whole.
var colonAt = func() (t [256]int) {
	t['h'], t['H'] = len("host"), len("host")
	t['c'], t['C'] = len("content-length"), len("content-length")
	return t
}()

var lineKinds = func() (t [256]uint8) {
	for _, c := range []byte("hHcCtT") {
		t[c] = lineName
	}
	for _, c := range []byte("\r\n \t") {
		t[c] = lineOther
	}
	return t
}()

// grow counts n more bytes of a field line and checks the header budget.
func (p *parser) grow(n int) event {
	p.block += n
	if p.st == stTrailField {
		p.trail += n
		if p.trail > maxTrailers {
			return p.fail(ReasonInvalidChunkedBody)
		}
	}
	if p.s.block >= 0 && p.block > p.s.block {
		return p.refuse(ReasonHeadersTooLarge, int64(p.s.block-2), int64(p.block-2))
	}
	return evMore
}

// keep holds b, the start of a line that goes on in the next read. A line
// is as long as the limits allow, or, with a limit off, as net/http reads
// (its MaxHeaderBytes and 4 KiB; a chunk-size line or trailers, 4 KiB).
// blockLine takes the line of a field block (the head's or the trailers')
// that starts at b[i], counting it against the block's limit: it returns
// the whole line, joined to its part from earlier reads, and where b goes
// on; or, with no line, where to stop and why (evMore: b ends within the
// line, whose part is kept).
func (p *parser) blockLine(b []byte, i int) (line []byte, next int, ev event) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		if ev := p.grow(len(b) - i); ev != evMore {
			return nil, i, ev
		}
		p.keep(b[i:])
		return nil, len(b), evMore
	}
	n := j + 1
	if ev := p.grow(n); ev != evMore {
		return nil, i, ev
	}
	return p.whole(b[i : i+n]), i + n, evMore
}

func (p *parser) keep(b []byte) {
	p.part = append(p.part, b...)
}

// whole returns the complete line whose last part is b.
func (p *parser) whole(b []byte) []byte {
	if len(p.part) == 0 {
		return b
	}
	p.keep(b)
	return p.part
}

// reject stops at a head that breaks a rule.
func (p *parser) reject(why Reason, lim, got int64) event {
	p.why, p.lim, p.got = why, lim, got
	return evReject
}

// refuse is reject in a head and fail in trailers.
func (p *parser) refuse(why Reason, lim, got int64) event {
	p.why, p.lim, p.got = why, lim, got
	if p.st == stTrailField {
		return evFail
	}
	return evReject
}

// fail stops at a broken body.
func (p *parser) fail(why Reason) event {
	p.why, p.lim, p.got = why, -1, -1
	return evFail
}

// end resets the parser for the next request; the body's count stays until
// the next head ends, for the handler still reading it.
func (p *parser) end() {
	p.skip, p.skipped = 0, 0
	if p.flags&fPOST != 0 {
		p.skip = maxPOSTSkip
	}
	p.st = stStart
	p.line, p.block, p.fields = 0, 0, 0
	p.part = p.part[:0]
	p.flags, p.hosts, p.cls, p.clDiff, p.tes, p.teOK, p.badTr = 0, 0, 0, false, 0, false, false
	p.trail, p.trCRLF = 0, false
}

// content returns a line without its LF and the CR before it, as
// bufio.Reader.ReadLine does.
func content(l []byte) []byte {
	l = l[:len(l)-1]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return l
}

// requestLine looks at a complete request line. The line is split as
// net/http splits it; one net/http refuses is left to net/http, which
// answers it and closes the connection.
func (p *parser) requestLine(l []byte) event {
	s := content(l)
	// The method, up to the first space, must be a token: a byte that is
	// neither ends the line's check.
	sp := 0
	for sp < len(s) && isTokenByte(s[sp]) {
		sp++
	}
	if sp == 0 || sp == len(s) || s[sp] != ' ' {
		p.flags |= fLineBad
		return evMore
	}
	method, rest := s[:sp], s[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		p.flags |= fLineBad
		return evMore
	}
	target, proto := rest[:sp], rest[sp+1:]
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		p.flags |= fHTTP10
	default:
		if len(proto) == len("HTTP/1.x") && string(proto[:len("HTTP/1.")]) == "HTTP/1." && '0' <= proto[7] && proto[7] <= '9' {
			if !p.s.checks {
				// net/http serves it as HTTP/1.1.
				break
			}
			return p.reject(ReasonHTTPVersion, -1, -1)
		}
		if string(method) == "PRI" && string(target) == "*" && string(proto) == "HTTP/2.0" {
			p.flags |= fPRI
			return evMore
		}
		// HTTP/0.x, HTTP/2 and later, or no version: net/http answers 505
		// or 400.
		p.flags |= fLineBad
		return evMore
	}
	switch string(method) {
	case "POST":
		p.flags |= fPOST
	case "PUT":
		p.flags |= fPUT
	case "CONNECT":
		p.flags |= fCONNECT
	case "OPTIONS":
		p.flags |= fOPTIONS
	}
	if !p.s.checks {
		return evMore
	}
	switch {
	case target[0] == '/':
	case len(target) == 1 && target[0] == '*':
		if p.flags&fOPTIONS == 0 {
			return p.reject(ReasonInvalidTarget, -1, -1)
		}
	case bytes.HasPrefix(target, []byte("http://")) || bytes.HasPrefix(target, []byte("https://")):
		// Kestrel recognises the absolute form by these lower-case
		// schemes only (HttpUtilities.GetKnownHttpScheme).
		p.flags |= fAbsolute
		if target[4] == 's' {
			p.flags |= fHTTPS
		}
		a := authority(target)
		if len(a) == 0 {
			return p.reject(ReasonInvalidTarget, -1, -1)
		}
		p.target = append(p.target[:0], a...)
	default:
		// Kestrel takes anything else for the authority form, which only
		// CONNECT may use.
		if p.flags&fCONNECT == 0 || !isAuthority(target) {
			return p.reject(ReasonInvalidTarget, -1, -1)
		}
		p.flags |= fAuthority
		p.target = append(p.target[:0], target...)
	}
	return evMore
}

// headerLine looks at a complete line of the head.
func (p *parser) headerLine(l []byte) event {
	c := l[0]
	if len(l) <= 2 && (len(l) == 1 || c == '\r') {
		return p.headEnd()
	}
	if c == ' ' || c == '\t' {
		if !p.s.checks {
			// net/http joins the line to the one before, which may
			// change the framing: stop following.
			return evPass
		}
		return p.reject(ReasonObsFold, -1, -1)
	}
	p.fields++
	if p.s.fields >= 0 && p.fields > p.s.fields {
		return p.reject(ReasonTooManyHeaders, int64(p.s.fields), int64(p.fields))
	}
	if c |= 0x20; c == 'h' || c == 'c' || c == 't' {
		p.field(l)
	}
	return evMore
}

// field notes a field line that may be one of those the head's checks and
// its framing depend on. Each name ends with its colon: one followed by
// whitespace is a name net/http refuses.
func (p *parser) field(l []byte) {
	switch l[0] | 0x20 {
	case 'h':
		if len(l) > len("host") && l[len("host")] == ':' && equalFold(l[:len("host")], "host") {
			v := value(l[len("host:"):])
			p.hosts++
			if p.hosts == 1 && !(p.hostOK && bytes.Equal(v, p.host)) {
				// A connection's requests mostly name the same host: check
				// it once.
				p.host, p.hostOK = append(p.host[:0], v...), false
			}
		}
	case 'c':
		if len(l) > len("content-length") && l[len("content-length")] == ':' && equalFold(l[:len("content-length")], "content-length") {
			v := value(l[len("content-length:"):])
			p.cls++
			if p.cls == 1 {
				p.cl = append(p.cl[:0], v...)
			} else if !bytes.Equal(v, p.cl) {
				p.clDiff = true
			}
		}
	case 't':
		switch {
		case len(l) > len("trailer") && l[len("trailer")] == ':':
			if equalFold(l[:len("trailer")], "trailer") {
				p.badTr = p.badTr || badTrailerDecl(value(l[len("trailer:"):]))
			}
		case len(l) > len("transfer-encoding") && l[len("transfer-encoding")] == ':':
			if equalFold(l[:len("transfer-encoding")], "transfer-encoding") {
				p.tes++
				if p.tes == 1 {
					p.teOK = equalFold(value(l[len("transfer-encoding:"):]), "chunked")
				}
			}
		}
	}
}

// value returns a field's value from the rest of its line after the colon:
// without the line's end and the whitespace around it.
func value(rest []byte) []byte {
	return trim(content(rest))
}

// headEnd decides on a complete head: Kestrel's Host rules first (Kestrel
// checks them before it frames the body), then the body's framing as
// net/http decides it.
func (p *parser) headEnd() event {
	if p.flags&fPRI != 0 && p.fields == 0 {
		// The HTTP/2 preface: net/http serves HTTP/2 with prior knowledge,
		// or hands the request to the handler and closes after it.
		return evPass
	}
	if p.flags&fLineBad != 0 {
		return evPass
	}
	if p.flags&fPRI == 0 && p.s.checks {
		if ev := p.checkHost(); ev != evMore {
			return ev
		}
		// Kestrel frames the body next (Http1MessageBody.For), and
		// refuses an HTTP/1.0 POST or PUT that says nothing of its length.
		if p.flags&fHTTP10 != 0 && p.flags&(fPOST|fPUT) != 0 && p.cls == 0 && p.tes == 0 {
			return p.reject(ReasonLengthRequired, -1, -1)
		}
	}
	// net/http ignores Transfer-Encoding in HTTP/1.0, and answers 501 to
	// anything but one "chunked" (transferReader.parseTransferEncoding).
	chunked := p.tes > 0 && p.flags&fHTTP10 == 0
	if chunked && (p.tes != 1 || !p.teOK) {
		return evPass
	}
	var n uint64
	if p.cls > 0 {
		// net/http refuses differing or malformed lengths, even beside
		// chunked, which then wins (fixLength).
		var ok bool
		n, ok = parseLength(p.cl)
		if p.clDiff || !ok {
			return evPass
		}
	}
	if chunked && p.badTr {
		return evPass
	}
	p.body = 0
	p.part, p.line = p.part[:0], 0
	switch {
	case chunked:
		p.st, p.excess = stChunkLine, 0
		return evHead
	case n > 0:
		p.st, p.remain = stBody, n
		return evHead
	}
	p.end()
	return evEnd
}

// checkHost applies Kestrel's rules on Host (Http1Connection's
// EnsureHostHeaderExists and ValidateNonOriginHostHeader).
func (p *parser) checkHost() event {
	switch {
	case p.hosts == 0:
		if p.flags&fHTTP10 != 0 {
			return evMore
		}
		return p.reject(ReasonInvalidHost, -1, -1)
	case p.hosts > 1:
		return p.reject(ReasonInvalidHost, -1, -1)
	}
	switch {
	case p.flags&fAuthority != 0:
		if !bytes.Equal(p.host, p.target) {
			return p.reject(ReasonHostMismatch, -1, -1)
		}
	case p.flags&fAbsolute != 0:
		if !sameAuthority(p.host, p.target, p.flags&fHTTPS != 0) {
			return p.reject(ReasonHostMismatch, -1, -1)
		}
	}
	if !p.hostOK {
		if !validHost(p.host) {
			return p.reject(ReasonInvalidHost, -1, -1)
		}
		p.hostOK = true
	}
	return evMore
}

// chunkSize parses a complete chunk-size line as net/http's chunked reader
// does, and sets remain to the chunk's size.
func (p *parser) chunkSize(l []byte) bool {
	// The line ends with CRLF, and holds no other CR.
	if len(l) < 2 || bytes.IndexByte(l, '\r') != len(l)-2 {
		return false
	}
	l = l[:len(l)-2]
	p.excess += int64(len(l)) + 2
	for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
		l = l[:len(l)-1]
	}
	if i := bytes.IndexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	if len(l) == 0 || len(l) > 16 {
		return false
	}
	var n uint64
	for _, c := range l {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return false
		}
		n = n<<4 | uint64(c)
	}
	// The same arithmetic as net/http's, overflow included.
	p.excess -= 16 + 2*int64(n)
	p.excess = max(p.excess, 0)
	if p.excess > maxExcess {
		return false
	}
	p.remain = n
	return true
}

// trailerLine looks at a complete line of a chunked body's trailers.
func (p *parser) trailerLine(l []byte) event {
	if len(l) == 1 || len(l) == 2 && l[0] == '\r' {
		// net/http reads trailers only once it sees a CRLFCRLF ahead
		// (body.readTrailer); a section that ends otherwise would make it
		// look into the next request.
		if len(l) != 2 || !p.trCRLF {
			return p.fail(ReasonInvalidChunkedBody)
		}
		p.end()
		return evEnd
	}
	p.trCRLF = len(l) >= 2 && l[len(l)-2] == '\r'
	if l[0] == ' ' || l[0] == '\t' {
		if !p.s.checks {
			return evPass
		}
		return p.refuse(ReasonObsFold, -1, -1)
	}
	p.fields++
	if p.s.fields >= 0 && p.fields > p.s.fields {
		return p.refuse(ReasonTooManyHeaders, int64(p.s.fields), int64(p.fields))
	}
	if !validTrailer(l) {
		return p.fail(ReasonInvalidChunkedBody)
	}
	return evMore
}

// validTrailer reports whether net/http's textproto.Reader reads l, a
// complete line, as a field line: a name of token bytes (spaces tolerated),
// a colon, and a value of visible bytes, spaces and tabs.
func validTrailer(l []byte) bool {
	s := trimRight(content(l))
	colon := bytes.IndexByte(s, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range s[:colon] {
		if !isTokenByte(c) && c != ' ' {
			return false
		}
	}
	for _, c := range s[colon+1:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// badTrailerDecl reports whether a Trailer field's value names a field that
// net/http refuses as a trailer (fixTrailer).
func badTrailerDecl(v []byte) bool {
	for len(v) > 0 {
		var f []byte
		f, v, _ = bytes.Cut(v, []byte{','})
		f = trimSpace(f)
		if equalFold(f, "transfer-encoding") || equalFold(f, "trailer") || equalFold(f, "content-length") {
			return true
		}
	}
	return false
}

// parseLength parses a Content-Length as net/http does: decimal digits, at
// most 2^63-1 (strconv.ParseUint(s, 10, 63)).
func parseLength(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' || n > (math.MaxInt64-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
