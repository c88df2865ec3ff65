//go:build unix && !aix && !solaris && !linux

package unixsock

import "golang.org/x/sys/unix"

// openDirFlags opens a directory to name files in it.
const openDirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// at calls f with the name by which the kernel is to find the file name in
// d, for the calls that take only a path (bind, connect): its full path,
// since a thread here cannot have a working directory of its own. The
// caller checks where it led.
func at(d directory, name string, f func(name string)) { f(d.join(name)) }
