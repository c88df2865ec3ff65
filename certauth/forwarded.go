package certauth

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"
)

// maxForwardedLen bounds a forwarded-certificate header value: a URL-escaped
// PEM certificate is about 1.5 times its DER, and client certificates are a
// few KB.
const maxForwardedLen = 16 << 10

var (
	errForwardedTooLong  = errors.New("header value longer than 16 KiB")
	errForwardedEscape   = errors.New("invalid URL escape")
	errForwardedPEM      = errors.New("not one PEM CERTIFICATE block")
	errForwardedBase64   = errors.New("invalid base64")
	errForwardedEmpty    = errors.New("empty certificate")
	errForwardedMultiple = errors.New("header repeated")
)

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// forwardBuf holds the working memory of one decoding, reused through a pool
// so that a request whose certificate is cached allocates nothing here.
type forwardBuf struct {
	text []byte
	der  []byte
}

var forwardBufs = sync.Pool{New: func() any {
	return &forwardBuf{text: make([]byte, 0, 4096), der: make([]byte, 0, 3072)}
}}

// decodeForwarded returns the DER of the one certificate in a forwarded
// header value: base64 DER (padded or not), or a PEM CERTIFICATE block, each
// possibly URL-escaped (nginx's $ssl_client_escaped_cert). Whitespace inside
// the base64 is ignored, since a PEM block's line breaks become spaces or
// escapes in a header. The result lives in b.
func decodeForwarded(b *forwardBuf, v string) ([]byte, error) {
	if len(v) > maxForwardedLen {
		return nil, errForwardedTooLong
	}
	text := b.text[:0]
	if strings.IndexByte(v, '%') >= 0 {
		var ok bool
		if text, ok = unescape(text, v); !ok {
			return nil, errForwardedEscape
		}
	} else {
		text = append(text, v...)
	}
	b.text = text
	text = bytes.TrimSpace(text)
	if rest, ok := bytes.CutPrefix(text, []byte(pemBegin)); ok {
		body, tail, found := bytes.Cut(rest, []byte(pemEnd))
		if !found || len(bytes.TrimSpace(tail)) != 0 || bytes.Contains(body, []byte("-----")) {
			return nil, errForwardedPEM
		}
		text = body
	}
	text = dropSpace(text)
	enc := base64.StdEncoding
	if len(text)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	der, err := enc.AppendDecode(b.der[:0], text)
	if err != nil {
		return nil, errForwardedBase64
	}
	b.der = der
	if len(der) == 0 {
		return nil, errForwardedEmpty
	}
	return der, nil
}

// unescape appends s to dst with its %XX escapes decoded. It leaves '+'
// alone: it is a base64 digit, not a space.
func unescape(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			c = hi<<4 | lo
			i += 2
		}
		dst = append(dst, c)
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// dropSpace removes spaces, tabs, CRs and LFs from b in place.
func dropSpace(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			out = append(out, c)
		}
	}
	return out
}

// forwarded validates the certificate a trusted proxy forwarded in the
// header value v. The cache is consulted before the certificate is parsed.
func (p *Policy) forwarded(v string, now time.Time) (*Identity, *Error) {
	b := forwardBufs.Get().(*forwardBuf)
	defer forwardBufs.Put(b)
	der, err := decodeForwarded(b, v)
	if err != nil {
		return nil, &Error{Reason: ReasonMalformed, Forwarded: true, Err: err}
	}
	gen := p.generation(now)
	if id := p.cache.get(der, true, now, gen); id != nil {
		return id, nil
	}
	// ParseCertificate keeps slices of its input: give it its own copy.
	cert, err := x509.ParseCertificate(bytes.Clone(der))
	if err != nil {
		return nil, &Error{Reason: ReasonMalformed, Forwarded: true, Err: err}
	}
	return p.validateMiss([]*x509.Certificate{cert}, true, gen, now)
}
