package limits

import (
	"net"
	"sync"
)

// AcquireConnection takes a slot of MaxConcurrentConnections, and one of
// MaxConnectionsPerClient for the client at addr, for a connection that no
// [Limiter.Listener] accepts: a QUIC connection, say (the http3 module's).
// It shares the Listener's pools, so one limit bounds the connections of
// every transport, as Kestrel's bounds those of every endpoint.
//
// It never waits: a connection whose transport cannot hold it in a queue is
// refused at once, over either limit, with an [*Error] of
// [ReasonConnectionLimit] or [ReasonClientConnectionLimit], counted in
// [Limiter.Stats] and reported to OnReject (with a nil request) as the
// Listener's refusals are. Otherwise it returns release, which gives the
// slots back; call it once the connection has closed. Calls of release
// after the first do nothing. A slot released wakes a connection that waits
// in a Listener's queue.
//
// addr's IP address (a *net.UDPAddr or *net.TCPAddr) keys the client;
// any other address counts as one unknown client.
func (l *Limiter) AcquireConnection(addr net.Addr) (release func(), err error) {
	var client clientSlot
	if l.clients != nil {
		var ok bool
		if client, ok = l.clients.hold(l.clients.addrKey(addr)); !ok {
			return nil, l.refuseConn(ReasonClientConnectionLimit, addr)
		}
	}
	if !l.conns.acquire() {
		client.release()
		return nil, l.refuseConn(ReasonConnectionLimit, addr)
	}
	l.accepted.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			client.release()
			l.conns.release()
		})
	}, nil
}
