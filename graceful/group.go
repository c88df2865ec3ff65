package graceful

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/windhover/windhover/internal/stripe"
)

// Group runs one or more http.Servers under one lifecycle: it serves them
// until Run's context ends or a stop signal arrives, then stops them all
// together in Kestrel's sequence (see the package documentation).
//
// Build it with [New], add the servers with [Group.Add] or [Group.AddTLS],
// then call [Group.Run] once. Its other methods are safe for concurrent use
// at any time.
type Group struct {
	s settings

	mu       sync.Mutex
	servers  []*server
	onStop   []func()
	ran      bool      // Run was called
	cause    error     // why the stop began; nil until it does
	signal   os.Signal // the signal that began it, if one did
	forceErr error     // why everything is to be closed at once; nil until then
	serveErr []error   // servers that failed
	report   Report

	state   atomic.Uint32   // a State
	stopReq chan struct{}   // closed when the stop is requested
	forceCh chan struct{}   // closed when forceErr is set
	stopped chan struct{}   // closed when Run's sequence is over
	ctx     context.Context // ends when the stop begins
	cancel  context.CancelCauseFunc

	conns          atomic.Int64 // open connections, hijacked ones excluded
	fresh          freshSet     // connections whose first request is not read yet
	hijacked       hijackSet
	tellClose      atomic.Bool    // Handler asks clients to close their connections
	epoch          time.Time      // the origin of lastAccept and lastRequest
	lastAccept     atomic.Int64   // since epoch, when a connection was last accepted while stopping
	lastRequest    atomic.Int64   // since epoch, when a request last began on a connection while stopping
	requests       stripe.Counter // requests in flight through Handler
	served         stripe.Counter // requests completed through Handler
	completedAfter atomic.Int64   // of which after the stop began, before the cut
	cut            atomic.Bool    // the connections left were closed
	forcedConns    atomic.Int64
	forcedHijacked atomic.Int64

	// notify and stopNotify are signal.Notify and signal.Stop, replaced by
	// tests that send signals without the operating system.
	notify     func(chan<- os.Signal, ...os.Signal)
	stopNotify func(chan<- os.Signal)
	// quiet and settleMax are quietPeriod and maxSettle, which tests
	// lengthen to outlast a loaded machine.
	quiet, settleMax time.Duration
}

// server is an http.Server of the group and where it listens.
type server struct {
	srv               *http.Server
	ln                *listener // nil until Run listens on srv.Addr
	tls               bool
	certFile, keyFile string
}

// New returns a Group stopping as cfg says, or an error naming the first
// field of cfg that is invalid.
func New(cfg Config) (*Group, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	g := &Group{
		s:          s,
		stopReq:    make(chan struct{}),
		forceCh:    make(chan struct{}),
		stopped:    make(chan struct{}),
		notify:     signal.Notify,
		stopNotify: signal.Stop,
		epoch:      time.Now(),
		quiet:      quietPeriod,
		settleMax:  maxSettle,
	}
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	return g, nil
}

// Add adds srv to the group, to serve on ln when Run is called: a TCP or Unix
// socket listener, or a TLS listener (tls.NewListener) whose config offers
// "h2" in NextProtos if HTTP/2 is wanted. If ln is nil, Run listens on TCP at
// srv.Addr (":http" if empty), as ListenAndServe does.
//
// A server that serves on several listeners (TCP and a Unix socket, say) is
// added once for each, every time with its listener; it is shut down once.
//
// Add chains the group's ConnState hook before any hook srv already has,
// once per server; srv's own RegisterOnShutdown functions still run when the
// group shuts it down. Add srv before it serves anywhere.
//
// Add panics, with a "graceful: " message, if srv is nil, if it is added
// again with the same listener or without one, or if Run has been called.
func (g *Group) Add(srv *http.Server, ln net.Listener) {
	g.add(&server{srv: srv}, ln)
}

// AddTLS is [Group.Add] for a server that speaks TLS on a plain listener ln,
// as srv.ServeTLS does: with srv.TLSConfig, the certificate and key loaded
// from certFile and keyFile unless that config already has a certificate,
// and HTTP/2 offered by ALPN unless srv.Protocols says otherwise. If ln is
// nil, Run listens on TCP at srv.Addr (":https" if empty).
//
// Prefer AddTLS to a TLS listener passed to Add: both are drained alike.
func (g *Group) AddTLS(srv *http.Server, ln net.Listener, certFile, keyFile string) {
	g.add(&server{srv: srv, tls: true, certFile: certFile, keyFile: keyFile}, ln)
}

func (g *Group) add(s *server, ln net.Listener) {
	if s.srv == nil {
		panic("graceful: Add with a nil *http.Server")
	}
	if ln != nil {
		s.ln = &listener{Listener: ln}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ran {
		panic("graceful: Add after Run")
	}
	known := false
	for _, o := range g.servers {
		if o.srv != s.srv {
			continue
		}
		if s.ln == nil || o.ln == nil || o.ln.Listener == s.ln.Listener {
			panic("graceful: the same *http.Server added twice without a listener of its own each time")
		}
		known = true
	}
	g.servers = append(g.servers, s)
	if known {
		return
	}
	prev := s.srv.ConnState
	s.srv.ConnState = func(c net.Conn, state http.ConnState) {
		g.connState(c, state)
		if prev != nil {
			prev(c, state)
		}
	}
}

// distinct returns the servers behind the entries, each once.
func distinct(servers []*server) []*http.Server {
	var out []*http.Server
	for _, s := range servers {
		if !slices.Contains(out, s.srv) {
			out = append(out, s.srv)
		}
	}
	return out
}

// connState is the hook Add puts on every server.
func (g *Group) connState(c net.Conn, state http.ConnState) {
	if State(g.state.Load()) >= StateStopping {
		g.sawWhileStopping(state)
	}
	switch state {
	case http.StateNew:
		g.conns.Add(1)
		g.fresh.add(c)
		return
	case http.StateIdle:
		// net/http reports a connection idle only after it reported it
		// active (HTTP/1 once a request was served, HTTP/2 at once), which
		// took it out of the fresh ones: nothing to look up on every
		// request's end, under the set's lock.
		return
	case http.StateClosed:
		g.conns.Add(-1)
	case http.StateHijacked:
		g.conns.Add(-1)
		if g.hijacked.add(c) {
			g.forcedHijacked.Add(1)
		}
	}
	g.fresh.remove(c)
}

// Run serves every server added until ctx ends, a stop signal arrives,
// [Group.Shutdown] is called, or a server fails; then it stops them all in
// Kestrel's sequence and returns once every connection is closed. Run may be
// called once; it panics, with a "graceful: " message, if called again.
//
// Run returns nil after a drain that finished in time, whatever began it.
// Otherwise its error matches, with errors.Is, one or more of:
// [ErrServe] (a server failed, or listening on srv.Addr did),
// [ErrShutdownTimeout] and [ErrForced]. It returns [ErrClosed] if Shutdown
// was called before it. The [Report] says what happened in detail.
//
// Unless Config.DisableSignals is set, Run handles the configured signals
// from its start to its return, with its own channel (signal.Notify), and
// restores their previous handling when it returns.
func (g *Group) Run(ctx context.Context) error {
	g.mu.Lock()
	if g.ran {
		g.mu.Unlock()
		panic("graceful: Run called twice")
	}
	g.ran = true
	servers := g.servers
	early := g.cause != nil
	g.mu.Unlock()

	if early {
		closeListeners(servers)
		g.finish(g.announce())
		return ErrClosed
	}
	var sigs chan os.Signal
	if len(g.s.signals) > 0 {
		sigs = make(chan os.Signal, 1)
		g.notify(sigs, g.s.signals...)
		defer g.stopNotify(sigs)
	}
	if err := listen(servers); err != nil {
		closeListeners(servers)
		g.requestStop(err, nil)
		g.finish(g.announce())
		return err
	}

	g.state.Store(uint32(StateServing))
	var serving sync.WaitGroup
	for _, s := range servers {
		serving.Go(func() { g.serve(s) })
	}
	served := make(chan struct{})
	go func() {
		serving.Wait()
		close(served)
	}()
	quit := make(chan struct{})
	var watching sync.WaitGroup
	watching.Go(func() { g.watch(ctx, sigs, quit) })

	<-g.stopReq
	err := g.stop(servers, served)
	close(quit)
	watching.Wait()
	<-served
	// Serve closes its listener, but ServeTLS returns without doing so
	// when it cannot load the certificate.
	closeListeners(servers)

	g.mu.Lock()
	err = errors.Join(append(g.serveErr, err)...)
	g.mu.Unlock()
	return err
}

// listen opens a TCP listener at srv.Addr for every server added without one.
func listen(servers []*server) error {
	for _, s := range servers {
		if s.ln != nil {
			continue
		}
		addr := s.srv.Addr
		if addr == "" {
			addr = ":http"
			if s.tls {
				addr = ":https"
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrServe, err)
		}
		s.ln = &listener{Listener: ln}
	}
	return nil
}

func closeListeners(servers []*server) {
	for _, s := range servers {
		if s.ln != nil {
			_ = s.ln.Close()
		}
	}
}

// serve runs one server until it stops, and stops the group if it stopped on
// its own.
func (g *Group) serve(s *server) {
	var err error
	if s.tls {
		err = s.srv.ServeTLS(s.ln, s.certFile, s.keyFile)
	} else {
		err = s.srv.Serve(s.ln)
	}
	// The drain closes the listeners before it shuts the servers down:
	// Serve then returns the error of Accept on a closed listener.
	if errors.Is(err, http.ErrServerClosed) || State(g.state.Load()) >= StateDraining && s.ln.isClosed() {
		// Ours, once the stop has begun; before, someone else's.
		g.requestStop(ErrServerClosed, nil)
		return
	}
	err = fmt.Errorf("%w on %s: %w", ErrServe, s.ln.Addr(), err)
	g.mu.Lock()
	g.serveErr = append(g.serveErr, err)
	g.mu.Unlock()
	g.requestStop(err, nil)
}

// watch turns the end of ctx and the signals into a stop request, and a
// signal during the stop into the immediate close, until quit is closed.
func (g *Group) watch(ctx context.Context, sigs <-chan os.Signal, quit <-chan struct{}) {
	done := ctx.Done()
	for {
		select {
		case <-done:
			g.requestStop(fmt.Errorf("%w: %w", ErrContextDone, context.Cause(ctx)), nil)
			done = nil
		case sig := <-sigs:
			if !g.requestStop(fmt.Errorf("%w: %v", ErrSignal, sig), sig) {
				g.force(fmt.Errorf("%w: signal %v received while stopping", ErrForced, sig))
			}
		case <-quit:
			return
		}
	}
}

// requestStop begins the stop for cause, and reports whether this call did:
// false if it had begun already.
func (g *Group) requestStop(cause error, sig os.Signal) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cause != nil {
		return false
	}
	g.cause, g.signal = cause, sig
	close(g.stopReq)
	return true
}

// force asks for every connection to be closed at once, for reason err.
func (g *Group) force(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.forceErr == nil {
		g.forceErr = err
		close(g.forceCh)
	}
}

// outcome is how a drain ended.
type outcome uint8

const (
	drained outcome = iota
	timedOut
	forced
)

// announce begins "stopping": the state changes, the ready handler answers
// 503, the stopping context ends and the OnStopping functions are called. It
// returns the report as it stands at this moment.
func (g *Group) announce() Report {
	g.mu.Lock()
	g.state.Store(uint32(StateStopping))
	g.tellClose.Store(true)
	if g.conns.Load() > 0 {
		// Requests and connections are timed from now on: a connection
		// open now may have been used a moment ago.
		g.lastRequest.Store(g.sinceEpoch())
	}
	rep := Report{
		Cause:    g.cause,
		Signal:   g.signal,
		Began:    time.Now(),
		InFlight: g.requests.Load(),
		Conns:    g.conns.Load(),
		Hijacked: int64(g.hijacked.open()),
	}
	g.report = rep
	callbacks := g.onStop
	g.onStop = nil
	g.mu.Unlock()
	g.cancel(rep.Cause)
	for _, f := range callbacks {
		go f()
	}
	return rep
}

// stop is Kestrel's sequence, from "stopping" to "stopped".
func (g *Group) stop(servers []*server, served <-chan struct{}) error {
	// 1. Stopping: the application is told; the ready handler answers 503.
	rep := g.announce()
	began := rep.Began

	// 2. The drain delay: listeners open, requests served, and every
	// response through Handler asks its client to close the connection, so
	// that clients reconnect through a balancer that has stopped sending
	// them here. Then the responses let the connections be, until no new
	// one has arrived for a moment: clients that still reconnect here are
	// then on open connections, not half-way through connecting, when the
	// listeners close, which resets whatever the kernel has accepted and
	// Serve has not.
	if g.s.delay > 0 {
		t := time.NewTimer(g.s.delay)
		select {
		case <-t.C:
		case <-g.forceCh:
		}
		t.Stop()
		g.tellClose.Store(false)
		g.awaitQuiet(&g.lastAccept, nil, nil)
	}
	rep.DrainDelay = time.Since(began)

	// 3. The drain, all servers at once, until the deadline, in Kestrel's
	// order: the listeners close, each once the connections the kernel
	// completed for it are accepted (Serve returns once Accept has failed,
	// having registered every connection accepted before), and responses
	// ask for their connections to be closed again. Shutdown comes once no
	// request has begun for a moment and every connection accepted has had
	// its first request read: the idle connections it closes then have no
	// request on the way, and it drops no request it reads (freshSet). It
	// sends GOAWAY on every HTTP/2 connection, runs the servers'
	// RegisterOnShutdown functions, and waits.
	g.state.Store(uint32(StateDraining))
	deadline, cancelDeadline := context.Background(), context.CancelFunc(func() {})
	if g.s.timeout > 0 {
		deadline, cancelDeadline = context.WithTimeout(deadline, g.s.timeout)
	}
	g.closeAccepted(servers, deadline.Done())
	g.tellClose.Store(true)
	select {
	case <-served:
	case <-deadline.Done():
	case <-g.forceCh:
	}
	g.awaitQuiet(&g.lastRequest, &g.fresh, deadline.Done())
	if deadline.Err() == nil {
		// The connections whose clients have still sent nothing after
		// that wait, with the listeners closed, have no request on the way.
		rep.SilentClosed = g.fresh.closeSilent()
	}
	shutCtx, stopShutdowns := context.WithCancel(deadline)
	srvs := distinct(servers)
	var shutting sync.WaitGroup
	for _, srv := range srvs {
		shutting.Go(func() { _ = srv.Shutdown(shutCtx) })
	}
	shut := make(chan struct{})
	go func() {
		shutting.Wait()
		close(shut)
	}()
	out := g.wait(deadline, shut)

	// 4. At the deadline, or when forced, whatever is open is closed.
	var err error
	if out != drained {
		g.cut.Store(true)
		rep.Unfinished = g.requests.Load()
		g.forcedConns.Add(g.conns.Load())
		var closing sync.WaitGroup
		for _, srv := range srvs {
			closing.Go(func() { _ = srv.Close() })
		}
		closing.Wait()
		err = ErrShutdownTimeout
		if out == forced {
			g.mu.Lock()
			err = g.forceErr
			g.mu.Unlock()
		}
	}
	// A connection hijacked from now on is closed as it arrives.
	g.forcedHijacked.Add(int64(g.hijacked.closeAll()))
	stopShutdowns()
	<-shut
	cancelDeadline()

	// 5. Stopped.
	rep.Duration = time.Since(began)
	// The counters of completed requests and of forced closes count from
	// zero at the stop, which happens once.
	rep.Completed = g.completedAfter.Load()
	if out == drained {
		rep.Unfinished = g.requests.Load()
	}
	rep.ForcedClosed = g.forcedConns.Load()
	rep.ForcedClosedHijacked = g.forcedHijacked.Load()
	rep.TimedOut = out == timedOut
	rep.Forced = out == forced
	g.finish(rep)
	return err
}

// maxHijackPoll is the longest a drain waits between looks at the hijacked
// connections; it starts at a millisecond and doubles up to this.
const maxHijackPoll = 20 * time.Millisecond

// wait waits for every Shutdown to return and every hijacked connection to
// be closed by its application, and says how that ended.
func (g *Group) wait(deadline context.Context, shut <-chan struct{}) outcome {
	select {
	case <-g.forceCh:
		return forced
	default:
	}
	select {
	case <-shut:
	case <-deadline.Done():
		return timedOut
	case <-g.forceCh:
		return forced
	}
	if deadline.Err() != nil {
		return timedOut
	}
	for poll := time.Millisecond; g.hijacked.open() > 0; poll = min(2*poll, maxHijackPoll) {
		// An unreferenced timer is collected, stopped or not (Go 1.23).
		select {
		case <-time.After(poll):
		case <-deadline.Done():
			return timedOut
		case <-g.forceCh:
			return forced
		}
	}
	return drained
}

// finish records the final report and marks the group stopped.
func (g *Group) finish(rep Report) {
	g.mu.Lock()
	g.report = rep
	g.mu.Unlock()
	g.state.Store(uint32(StateStopped))
	close(g.stopped)
}

// Shutdown begins the stop, as a signal would, and waits until Run has
// finished it. If ctx ends first, Shutdown closes every connection at once,
// as a second signal would (Run's error then matches [ErrForced]), waits for
// that, and returns ctx's error. Called before Run, Shutdown returns nil at
// once and Run, when called, returns [ErrClosed] without serving.
func (g *Group) Shutdown(ctx context.Context) error {
	g.requestStop(ErrShutdownCalled, nil)
	g.mu.Lock()
	ran := g.ran
	g.mu.Unlock()
	if !ran {
		return nil
	}
	select {
	case <-g.stopped:
		return nil
	case <-ctx.Done():
		g.force(fmt.Errorf("%w: Shutdown's context ended: %w", ErrForced, context.Cause(ctx)))
		<-g.stopped
		return ctx.Err()
	}
}

// Stopping returns a channel that is closed when the stop begins: the moment
// to tell clients of long-lived and hijacked connections (WebSockets,
// server-sent events) to go, since net/http cannot. It is the Done channel
// of [Group.Context].
func (g *Group) Stopping() <-chan struct{} { return g.ctx.Done() }

// Context returns a context that ends when the stop begins, with the reason
// as its cause (context.Cause): an error matching [ErrSignal],
// [ErrContextDone], [ErrShutdownCalled], [ErrServerClosed] or [ErrServe].
// Derive the contexts of background work from it.
func (g *Group) Context() context.Context { return g.ctx }

// Stopped returns a channel that is closed when Run's sequence is over and
// the [Report] is final.
func (g *Group) Stopped() <-chan struct{} { return g.stopped }

// OnStopping registers f to be called, in its own goroutine, when the stop
// begins, or at once if it has begun. Like http.Server.RegisterOnShutdown
// functions, f should start whatever the application does to let its
// connections go, and not wait for it.
func (g *Group) OnStopping(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state.Load() >= uint32(StateStopping) {
		go f()
		return
	}
	g.onStop = append(g.onStop, f)
}
