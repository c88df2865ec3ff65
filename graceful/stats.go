package graceful

// Stats is a snapshot of a [Group]'s counters, for metrics. Connections are
// counted through the ConnState hook of every server added; requests only if
// they pass through [Group.Handler].
type Stats struct {
	// State is where the group is in its lifecycle.
	State State
	// Conns is the number of open connections, hijacked ones excluded.
	Conns int64
	// Hijacked is the number of hijacked connections the application has
	// not closed yet.
	Hijacked int64
	// Requests is the number of requests in flight.
	Requests int64
	// Served is the number of requests completed.
	Served int64
	// ForcedClosed is the number of connections, not hijacked, closed at
	// the shutdown deadline or by force.
	ForcedClosed int64
	// ForcedClosedHijacked is the number of hijacked connections the group
	// closed.
	ForcedClosedHijacked int64
}

// Stats returns a snapshot of the group's counters. It is safe to call at any
// time; it costs a look at every hijacked connection.
func (g *Group) Stats() Stats {
	return Stats{
		State:                State(g.state.Load()),
		Conns:                g.conns.Load(),
		Hijacked:             int64(g.hijacked.open()),
		Requests:             g.requests.Load(),
		Served:               g.served.Load(),
		ForcedClosed:         g.forcedConns.Load(),
		ForcedClosedHijacked: g.forcedHijacked.Load(),
	}
}
