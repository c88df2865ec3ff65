// Package tracer tells whether a debugger is attached to the process (a
// ptrace tracer on Linux, such as delve or strace; IsDebuggerPresent on
// Windows), so that timers can stand down while someone steps through the
// server, as Kestrel's do while a debugger is attached.
package tracer

import (
	"sync"
	"sync/atomic"
	"time"
)

// Interval is how long an answer of [Attached] is kept before the process
// is looked at again.
const Interval = time.Second

var (
	epoch    = time.Now()
	checked  atomic.Int64 // when the process was last looked at: nanoseconds since epoch, +1; 0 never
	attached atomic.Bool
	looking  sync.Mutex     // held while the process is looked at
	detect   = detectTracer // replaced by tests
)

// Attached reports whether a debugger is attached, as last seen: it looks
// at the process at most once an [Interval] (Linux: TracerPid in
// /proc/self/status) and otherwise answers from two atomic loads, without
// allocating. When the last look is older than that, one caller looks and
// the others that come meanwhile wait for its answer rather than take the
// old one. Where the platform offers no way to tell, it reports false. It is
// safe for concurrent use.
func Attached() bool {
	if a, ok := fresh(); ok {
		return a
	}
	looking.Lock()
	defer looking.Unlock()
	if a, ok := fresh(); ok {
		return a // another caller looked meanwhile
	}
	a := detect()
	attached.Store(a) // before checked: whoever sees the new time sees the new answer
	checked.Store(int64(time.Since(epoch)) + 1)
	return a
}

// fresh returns the last answer, if it is less than an Interval old.
func fresh() (bool, bool) {
	last := checked.Load()
	if last == 0 || int64(time.Since(epoch))+1-last >= int64(Interval) {
		return false, false
	}
	return attached.Load(), true
}

// Supported reports whether this platform can tell that a debugger is
// attached; where it cannot, [Attached] always reports false.
func Supported() bool { return supported }
