// Package refuse holds what every policy does when it answers a request it
// will not serve.
package refuse

import (
	"net/http"
	"time"
)

// SkipBody prepares w to answer r without reading r's body. Call it before
// writing the answer.
//
// After a handler returns, net/http's HTTP/1 server reads up to 256 KB of a
// body the handler left unread, so that the connection can carry a next
// request, and it does so at the client's pace, with no deadline unless the
// server has a ReadTimeout: a refused client could hold the connection by
// sending its body a byte a minute. Over HTTP/1 SkipBody therefore asks for
// the connection to close after the answer and makes that read fail at once
// ([StopReading]); the answer itself is written and flushed before. Over
// HTTP/2 the stream ends with the handler and nothing is needed. A request
// without a body is left alone, and so is a writer that offers no read
// deadline (no Unwrap to net/http's writer): it gets Connection: close only.
func SkipBody(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	w.Header().Set("Connection", "close")
	StopReading(w, r)
}

// StopReading makes net/http's HTTP/1 server give up at once on the rest of
// r's body, with an expired read deadline, rather than read it at the
// client's pace after the handler. Unlike [SkipBody] it leaves the header
// alone, so it may be called from a goroutine other than the handler's (a
// body Read that finds the body too long), but the caller must then make
// sure the connection closes after the answer. Over HTTP/2 it does nothing.
func StopReading(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}
