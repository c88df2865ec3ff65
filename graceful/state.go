package graceful

import "strconv"

// State is where a [Group] is in its lifecycle. Its String form is a stable
// snake_case label, fit for metrics and logs.
type State uint32

// The states, in the order a Group passes through them.
const (
	// StateNew: Run has not started serving yet.
	StateNew State = iota
	// StateServing: the servers serve; the ready handler answers 200.
	StateServing
	// StateStopping: the stop has begun. The stopping context has ended and
	// the ready handler answers 503, but the listeners are still open and
	// requests are served, for as long as the drain delay lasts; the
	// responses ask their clients to close their connections.
	StateStopping
	// StateDraining: the listeners are closed and the servers are shutting
	// down: requests in flight finish, responses ask for their connections
	// to be closed, idle connections are closed once no request is on its
	// way, and hijacked connections are waited for until the shutdown
	// timeout.
	StateDraining
	// StateStopped: every connection is closed; the [Report] is final.
	StateStopped

	numStates
)

var stateNames = [numStates]string{
	StateNew:      "new",
	StateServing:  "serving",
	StateStopping: "stopping",
	StateDraining: "draining",
	StateStopped:  "stopped",
}

// String returns the state's snake_case label, such as "draining".
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state_" + strconv.Itoa(int(s))
}
