package h1wire

// Times reports whether w times c's heads: c is w's own, or w joined it,
// and w has PartTimers (no Wire joined later for the timers). A listener
// that must know whether its connections are timed (to report those that
// are not) asks here. Call it from the goroutine that accepted c, or after
// the server started serving it.
func (w *Wire) Times(c *Conn) bool {
	return w.parts&PartTimers != 0 && c.timers == w
}
