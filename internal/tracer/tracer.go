// Package tracer tells whether a debugger is attached to the process (a
// ptrace tracer on Linux, such as delve or strace; P_TRACED on macOS;
// IsDebuggerPresent on Windows), so that timers can stand down while someone
// steps through the server, as Kestrel's do while a debugger is attached.
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
	detect   = detectTracer // replaced by this package's tests
	pretend  atomic.Int32   // Pretend's answer: 0 none, 1 not attached, 2 attached
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
	var a bool
	switch pretend.Load() {
	case 0:
		a = detect()
	case 2:
		a = true
	}
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

// Pretend makes [Attached] report attached from now until restore is
// called, whatever the process: for the tests of the packages that stand
// down under a debugger, which cannot attach one to themselves. It is safe
// to call while Attached runs elsewhere.
func Pretend(a bool) (restore func()) {
	v := int32(1)
	if a {
		v = 2
	}
	pretend.Store(v)
	checked.Store(0)
	return func() {
		pretend.Store(0)
		checked.Store(0)
	}
}
