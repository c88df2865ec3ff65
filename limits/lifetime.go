package limits

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// lifetimeJitter is the share of MaxConnectionAge and
// MaxRequestsPerConnection by which each connection's own limits are drawn
// earlier, at random: connections opened together (after a deploy, a
// balancer's failover) then do not all close together and reconnect in one
// wave.
const lifetimeJitter = 10 // percent

// lifetime is the age and request count of one connection, against the
// limits drawn for it. Apply's ConnContext makes one per connection.
type lifetime struct {
	born     time.Time
	maxAge   time.Duration // 0: none
	maxReqs  int64         // 0: none
	requests atomic.Int64
	retired  atomic.Bool
}

// lifetimeKey is the context key of a connection's *lifetime.
type lifetimeKey struct{ l *Limiter }

// newLifetime draws a connection's limits from l's, each up to
// lifetimeJitter percent lower.
func (l *Limiter) newLifetime(now time.Time) *lifetime {
	lt := &lifetime{born: now, maxAge: l.s.maxAge, maxReqs: l.s.maxRequests}
	if j := int64(lt.maxAge) * lifetimeJitter / 100; j > 0 {
		lt.maxAge -= time.Duration(rand.Int64N(j + 1))
	}
	if j := lt.maxReqs * lifetimeJitter / 100; j > 0 {
		lt.maxReqs -= rand.Int64N(j + 1)
	}
	return lt
}

// hasLifetime reports whether l retires connections.
func (l *Limiter) hasLifetime() bool {
	return l.policies&lifetimePolicy != 0 && (l.s.maxAge > 0 || l.s.maxRequests > 0)
}

// lifetimeContext is chained into http.Server.ConnContext by Apply: it
// starts the connection's lifetime.
func (l *Limiter) lifetimeContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, lifetimeKey{l}, l.newLifetime(time.Now()))
}

// Why a connection was retired: the index of Limiter.retired.
const (
	retiredByAge      = iota // MaxConnectionAge
	retiredByRequests        // MaxRequestsPerConnection
	numRetireReasons
)

// retire counts r against its connection's lifetime and, if r is the
// request that reaches MaxRequestsPerConnection or comes after
// MaxConnectionAge, asks for the connection to close after r's response:
// "Connection: close", on which net/http closes an HTTP/1 connection once
// the response is out and, over HTTP/2, sends GOAWAY (NO_ERROR) and closes
// once the open streams are done (see http2serverConn.startGracefulShutdown
// in net/http's h2_bundle.go). Requests already in flight on an HTTP/2
// connection finish; the client opens a new connection for the next ones.
// An HTTP/1 upgrade request is counted but never answered so.
func (l *Limiter) retire(w http.ResponseWriter, r *http.Request) {
	lt, _ := r.Context().Value(lifetimeKey{l}).(*lifetime)
	if lt == nil {
		l.noLifetime(r)
		return
	}
	n := lt.requests.Add(1)
	if r.ProtoMajor == 1 && isUpgrade(r) {
		// A WebSocket handler hands the connection over: "Connection:
		// close" would only spoil its 101 (a proxied upgrade copies the
		// header into it). If the upgrade is refused, the next request
		// retires the connection.
		return
	}
	why := -1
	switch {
	case lt.maxReqs > 0 && n >= lt.maxReqs:
		why = retiredByRequests
	case lt.maxAge > 0 && time.Since(lt.born) >= lt.maxAge:
		why = retiredByAge
	case !lt.retired.Load():
		return
	}
	// Every request after the one that retired the connection (HTTP/2
	// streams opened before the client saw the GOAWAY) asks again, which
	// changes nothing; the connection is counted once.
	w.Header().Set("Connection", "close")
	if why >= 0 && lt.retired.CompareAndSwap(false, true) {
		l.retired[why].Add(1)
	}
}

// noLifetime warns, once, that a Limiter with connection lifetimes serves a
// request whose connection it did not see open.
func (l *Limiter) noLifetime(r *http.Request) {
	if l.warnedLifetime.Load() || !l.warnedLifetime.CompareAndSwap(false, true) {
		return
	}
	slog.Warn("windhover/limits: MaxConnectionAge or MaxRequestsPerConnection is set, but a request reached the Handler on a server not given to Limiter.Apply, "+
		"whose ConnContext starts each connection's lifetime; its connections are never retired",
		slog.String("remote", r.RemoteAddr))
}
