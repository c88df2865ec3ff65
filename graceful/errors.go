package graceful

import "errors"

// Errors a [Group] reports: as the cause of a stop (context.Cause of
// [Group.Context], [Report.Cause]) or, for the last three, from
// [Group.Run]. Each error wrapping one of them matches it with errors.Is.
var (
	// ErrSignal: a stop signal arrived. The error wrapping it names the
	// signal, also in [Report.Signal].
	ErrSignal = errors.New("windhover/graceful: stop signal received")
	// ErrContextDone: Run's context ended. The error wrapping it also wraps
	// the context's cause.
	ErrContextDone = errors.New("windhover/graceful: run context ended")
	// ErrShutdownCalled: [Group.Shutdown] was called.
	ErrShutdownCalled = errors.New("windhover/graceful: Shutdown called")
	// ErrServerClosed: a server was shut down or closed from outside the
	// group (its own Shutdown or Close was called), which stops the others.
	ErrServerClosed = errors.New("windhover/graceful: a server was closed outside the group")

	// ErrServe: a server stopped serving with an error (its listener
	// failed, say), which stopped the group. The error wrapping it names
	// the listener's address and wraps what Serve returned.
	ErrServe = errors.New("windhover/graceful: serving failed")
	// ErrShutdownTimeout: the shutdown timeout passed with connections
	// still open; they were closed.
	ErrShutdownTimeout = errors.New("windhover/graceful: shutdown timeout passed; the connections still open were closed")
	// ErrForced: a second signal, or the end of [Group.Shutdown]'s
	// context, closed every connection at once without waiting for the
	// drain. The error wrapping it says which.
	ErrForced = errors.New("windhover/graceful: forced to stop; every connection was closed at once")
)

// ErrClosed is returned by Run when [Group.Shutdown] was called before it.
var ErrClosed = errors.New("windhover/graceful: Shutdown was called before Run")
