package limits

import (
	"bytes"
	"net"
	"sync"
	"time"
)

const (
	// maxResponders bounds the refused connections being answered at once;
	// past it, refused connections are closed without a reply.
	maxResponders = 64
	// respondTimeout bounds the life of one refusal: reading the start of the
	// request, writing the 503, and draining what the client still sends.
	respondTimeout = time.Second
	// drainLimit bounds the bytes read from a refused client after the 503,
	// read only so that closing does not reset the connection before the
	// client has read the reply.
	drainLimit = 64 << 10
)

// response503 is the canned reply to a plaintext HTTP/1 client over the limit.
var response503 = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 20\r\n" +
	"Connection: close\r\n" +
	"\r\n" +
	"Service Unavailable\n")

var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// responder answers refused connections with response503.
type responder struct {
	slots  chan struct{}
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	done   sync.WaitGroup
	closed bool
}

func (r *responder) init() {
	r.slots = make(chan struct{}, maxResponders)
	r.conns = make(map[net.Conn]struct{})
}

// respond answers c in a goroutine of its own, if one of the bounded slots is
// free; otherwise it closes c.
func (r *responder) respond(c net.Conn) {
	select {
	case r.slots <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.slots
		_ = c.Close()
		return
	}
	r.conns[c] = struct{}{}
	r.done.Add(1)
	r.mu.Unlock()
	go func() {
		defer func() {
			_ = c.Close()
			r.mu.Lock()
			delete(r.conns, c)
			r.mu.Unlock()
			<-r.slots
			r.done.Done()
		}()
		answer503(c)
	}()
}

// answer503 reads the start of the request, and if it is plaintext HTTP/1,
// writes response503, half-closes and drains.
func answer503(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(respondTimeout))
	var buf [512]byte
	n, _ := c.Read(buf[:])
	if n == 0 || buf[0] == 0x16 || bytes.HasPrefix(http2Preface, buf[:min(n, len(http2Preface))]) {
		// Nothing, a TLS record (0x16 is a handshake), or the HTTP/2 preface.
		return
	}
	if _, err := c.Write(response503); err != nil {
		return
	}
	if closeWrite(c) != nil {
		return
	}
	for total := n; total < drainLimit; {
		m, err := c.Read(buf[:])
		total += m
		if err != nil {
			return
		}
	}
}

// stop cuts short every refusal in progress and waits for their goroutines.
func (r *responder) stop() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.SetDeadline(time.Now())
	}
	r.mu.Unlock()
	r.done.Wait()
}
