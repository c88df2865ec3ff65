//go:build linux

package unixsock

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// openDirFlags opens a directory only to name files in it, for which O_PATH
// needs no read permission on it.
const openDirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC

// testHookSharedCwd, if set, makes at behave as where a thread cannot have
// a working directory of its own.
var testHookSharedCwd bool

// at calls f with the name by which the kernel is to find the file name in
// d, for the calls that take only a path (bind, connect). That is name
// itself, resolved in d by a thread made for the call whose working
// directory d is, so that no rename or symbolic link on the way to d's path
// can send the kernel elsewhere. Where a thread cannot have a working
// directory of its own (unshare(2) refused by a seccomp filter, as
// Docker's default one does without CAP_SYS_ADMIN), f gets the full path,
// and the caller checks where it led.
func at(d directory, name string, f func(name string)) {
	own := make(chan bool, 1)
	go func() {
		// Once unshared, the thread's working directory is its own and it
		// must run no other goroutine: returning while locked ends it.
		runtime.LockOSThread()
		if testHookSharedCwd || unix.Unshare(unix.CLONE_FS) != nil || unix.Fchdir(d.fd) != nil {
			own <- false
			return
		}
		f(name)
		own <- true
	}()
	if !<-own {
		f(d.join(name))
	}
}
