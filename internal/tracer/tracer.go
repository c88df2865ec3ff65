// Package tracer tells whether a debugger is attached to the process (a
// ptrace tracer on Linux, such as delve or strace; IsDebuggerPresent on
// Windows), so that timers can stand down while someone steps through the
// server, as Kestrel's do while a debugger is attached.
package tracer

import (
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
	detect   = detectTracer // replaced by tests
)

// Attached reports whether a debugger is attached, as last seen: it looks
// at the process at most once an [Interval] (Linux: TracerPid in
// /proc/self/status) and otherwise answers from two atomic loads, without
// allocating. One caller looks while the others keep the last answer. Where
// the platform offers no way to tell, it reports false. It is safe for
// concurrent use.
func Attached() bool {
	now := int64(time.Since(epoch)) + 1
	last := checked.Load()
	if last != 0 && now-last < int64(Interval) {
		return attached.Load()
	}
	if checked.CompareAndSwap(last, now) {
		attached.Store(detect())
	}
	return attached.Load()
}

// Supported reports whether this platform can tell that a debugger is
// attached; where it cannot, [Attached] always reports false.
func Supported() bool { return supported }
