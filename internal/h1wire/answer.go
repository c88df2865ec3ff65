package h1wire

import (
	"net/http"
	"strconv"
)

// responses holds the answer to each reason: the status, a short text/plain
// body naming it, and Connection: close, as net/http's own answers to bad
// requests have them.
var responses = func() (r [numReasons][]byte) {
	for why := range numReasons {
		code := why.Status()
		if code == 0 {
			continue
		}
		text := http.StatusText(code)
		r[why] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: " + strconv.Itoa(len(text)+1) + "\r\n" +
			"Connection: close\r\n" +
			"\r\n" +
			text + "\n")
	}
	return r
}()
