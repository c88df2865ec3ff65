//go:build linux

package unixsock

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The attacks below aim at a file of root's (of the test's user, when not
// root) that nobody else may write:
// a server running as root that follows a name another user replaced
// would give it the socket's mode, 0666 here.
const (
	victimMode  = 0o644
	socketMode  = 0o666
	victimBytes = "precious"
)

// victim makes a directory holding one file, mode 0644, both the test's
// user's, and returns the file's path.
func victim(t *testing.T, base string) string {
	t.Helper()
	dir := filepath.Join(base, "victim")
	require.NoError(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "t")
	require.NoError(t, os.WriteFile(path, []byte(victimBytes), victimMode))
	require.NoError(t, os.Chmod(path, victimMode)) // whatever the umask
	return path
}

// checkVictim asserts that the victim file and its directory are as made:
// mode, owner and contents, and nothing added beside it (a socket bound
// there, say).
func checkVictim(t *testing.T, path string) {
	t.Helper()
	st := statOf(t, path)
	assert.Equal(t, fmt.Sprintf("%#o", victimMode), fmt.Sprintf("%#o", st.Mode&0o7777), "the victim's mode")
	assert.Equal(t, os.Geteuid(), int(st.Uid), "the victim's owner")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, victimBytes, string(b))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing made beside the victim")
}

// ownCwd reports whether a thread here may have a working directory of its
// own, so that Listen resolves bare names in its open directories.
func ownCwd() bool {
	ok := make(chan bool)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ok <- unix.Unshare(unix.CLONE_FS) == nil
	}()
	return <-ok
}

// cwdModes are the ways Listen can hand bind(2) and connect(2) a name:
// resolved in the open directory, or by full path as where unshare(2) is
// refused. Each test of a swap runs in both.
func cwdModes(t *testing.T) []bool {
	if !ownCwd() {
		t.Log("this system refuses unshare(CLONE_FS): only the full-path mode runs")
		return []bool{true}
	}
	return []bool{false, true}
}

func cwdName(shared bool) string {
	if shared {
		return "full path"
	}
	return "open directory"
}

// withSharedCwd sets testHookSharedCwd for the test.
func withSharedCwd(t *testing.T, shared bool) {
	testHookSharedCwd = shared
	t.Cleanup(func() { testHookSharedCwd = false })
}

// A directory that a user other than the process's and root may change is
// refused before anything is made in it; one with the sticky bit is not.
func TestListenRefusesUnsafeDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	tests := []struct {
		name   string
		mode   os.FileMode
		uid    int
		refuse string // the error's text after the path, or "" if accepted
	}{
		{"another user's", 0o755, 65534, " belongs to uid 65534 (mode 0755), who can replace the files in it; use a directory of uid 0's or root's"},
		{"another user's, sticky", 0o777 | os.ModeSticky, 65534, " belongs to uid 65534 (mode 01777), who can replace the files in it; use a directory of uid 0's or root's"},
		{"writable by all", 0o777, 0, " (mode 0777, uid 0) may be written to by its group or others and lacks the sticky bit, so they can replace the files in it; take their write permission away or set the sticky bit"},
		{"writable by others only", 0o703, 0, " (mode 0703, uid 0) may be written to by its group or others and lacks the sticky bit, so they can replace the files in it; take their write permission away or set the sticky bit"},
		{"writable by its group", 0o770, 0, " (mode 0770, uid 0) may be written to by its group or others and lacks the sticky bit, so they can replace the files in it; take their write permission away or set the sticky bit"},
		{"sticky, like /tmp", 0o777 | os.ModeSticky, 0, ""},
		{"group-writable and sticky", 0o775 | os.ModeSticky, 0, ""},
		{"the process's own", 0o755, 0, ""},
		{"private", 0o700, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeaks(t)
			dir := filepath.Join(publicDir(t, 0o755), "d")
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Chmod(dir, tt.mode))
			require.NoError(t, os.Chown(dir, tt.uid, 0))
			path := filepath.Join(dir, "s.sock")
			ln, err := Listen(path, Config{Lock: true})
			if tt.refuse == "" {
				require.NoError(t, err)
				require.NoError(t, ln.Close())
				return
			}
			require.ErrorIs(t, err, ErrUnsafeDirectory)
			assert.Nil(t, ln)
			assert.EqualError(t, err, "windhover/unixsock: another user can replace files in the socket's directory: "+dir+tt.refuse)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no lock file, no private directory, no socket")
		})
	}
}

// In a sticky directory, a lock file of another user's is one that user
// may remove and replace: refused. And a lock name another user made a
// named pipe of does not make Listen wait for a writer.
func TestListenLockFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	t.Run("another user's file", func(t *testing.T) {
		checkNoLeaks(t)
		path := filepath.Join(publicDir(t, 0o777|os.ModeSticky), "s.sock")
		require.NoError(t, os.WriteFile(path+".lock", nil, 0o644))
		require.NoError(t, os.Chown(path+".lock", 65534, 65534))
		_, err := Listen(path, Config{Lock: true})
		require.ErrorIs(t, err, ErrUnsafeDirectory)
		assert.EqualError(t, err, "windhover/unixsock: another user can replace files in the socket's directory: lock file "+path+".lock belongs to uid 65534, who can replace it")
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("named pipe", func(t *testing.T) {
		checkNoLeaks(t)
		path := filepath.Join(publicDir(t, 0o777|os.ModeSticky), "s.sock")
		require.NoError(t, syscall.Mkfifo(path+".lock", 0o666))
		require.NoError(t, os.Chown(path+".lock", 65534, 65534))
		done := make(chan error, 1)
		go func() {
			ln, err := Listen(path, Config{Lock: true})
			if err == nil {
				ln.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			assert.EqualError(t, err, "windhover/unixsock: lock file "+path+".lock is a named pipe, not a regular file")
		case <-time.After(5 * time.Second):
			// Let Listen go: a writer opens the pipe.
			if w, err := os.OpenFile(path+".lock", os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			<-done
			t.Fatal("Listen waited for a writer on a named pipe at the lock file's name")
		}
	})
}

// The private directory, replaced between mkdirat and openat (which only
// a user who may write to the socket's directory could do), is not
// used: whatever is at its name now, the error wraps ErrUnsafeDirectory.
func TestListenPrivateDirectoryReplaced(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name      string
		needsRoot bool
		replace   func(t *testing.T, dir, target string)
		want      string
	}{
		{"by a symbolic link", false, func(t *testing.T, dir, target string) {
			other := filepath.Join(filepath.Dir(dir), "other")
			require.NoError(t, os.Mkdir(other, 0o700))
			require.NoError(t, os.Symlink(target, filepath.Join(other, "s")))
			require.NoError(t, os.Symlink("other", dir))
		}, "was replaced as soon as it was made: "},
		{"by another user's directory", true, func(t *testing.T, dir, target string) {
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Symlink(target, filepath.Join(dir, "s")))
			require.NoError(t, os.Chown(dir, 65534, 65534))
		}, "was replaced as soon as it was made, by a directory of uid 65534 with mode 0700"},
		{"by a directory others may use", false, func(t *testing.T, dir, target string) {
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.Chmod(dir, 0o755))
		}, "was replaced as soon as it was made, by a directory of uid " + fmt.Sprint(os.Geteuid()) + " with mode 0755"},
		{"by a file", false, func(t *testing.T, dir, target string) {
			require.NoError(t, os.WriteFile(dir, nil, 0o600))
		}, "was replaced as soon as it was made: "},
		{"by nothing", false, func(t *testing.T, dir, target string) {}, "was replaced as soon as it was made: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsRoot && !root {
				t.Skip("giving a directory to another user needs root")
			}
			checkNoLeaks(t)
			base := shortDir(t)
			target := victim(t, base)
			path := filepath.Join(base, "s.sock")
			var private string
			testHookMade = func(dir string) {
				private = dir
				require.NoError(t, os.Rename(dir, filepath.Join(base, "moved")))
				tt.replace(t, dir, target)
			}
			t.Cleanup(func() { testHookMade = nil })
			ln, err := Listen(path, Config{Mode: socketMode})
			require.ErrorIs(t, err, ErrUnsafeDirectory)
			assert.Nil(t, ln)
			assert.ErrorContains(t, err, "the private directory "+private+" "+tt.want)
			checkVictim(t, target)
			_, err = os.Lstat(path)
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// Once the socket is bound, nothing Listen does follows a name: the
// private directory's name or a directory above the socket's, replaced
// right after bind(2) to lead to the victim, changes nothing but where
// the path leads. This is the race of issue 11 with the window held open.
func TestListenFollowsNoReplacedName(t *testing.T) {
	tests := []struct {
		name string
		// replace redirects the path from inside Listen: private is the
		// private path bound, above the directory above the socket's.
		replace func(t *testing.T, private, above, target string)
	}{
		{"private directory by a symbolic link", func(t *testing.T, private, above, target string) {
			dir := filepath.Dir(private)
			decoy := filepath.Join(above, "decoy")
			require.NoError(t, os.Mkdir(decoy, 0o700))
			require.NoError(t, os.Symlink(target, filepath.Join(decoy, "s")))
			require.NoError(t, os.Rename(dir, dir+"-moved"))
			require.NoError(t, os.Symlink(decoy, dir))
		}},
		{"socket's directory by another", func(t *testing.T, private, above, target string) {
			sockDir := filepath.Dir(filepath.Dir(private))
			require.NoError(t, os.Rename(sockDir, sockDir+"-moved"))
			require.NoError(t, os.MkdirAll(private, 0o700))
			require.NoError(t, os.Remove(private))
			require.NoError(t, os.Symlink(target, private))
		}},
	}
	for _, tt := range tests {
		for _, shared := range cwdModes(t) {
			t.Run(tt.name+"/"+cwdName(shared), func(t *testing.T) {
				checkNoLeaks(t)
				withSharedCwd(t, shared)
				above := shortDir(t)
				target := victim(t, above)
				sockDir := filepath.Join(above, "sockets")
				require.NoError(t, os.Mkdir(sockDir, 0o700))
				path := filepath.Join(sockDir, "s.sock")
				testHookBound = func(private string) { tt.replace(t, private, above, target) }
				t.Cleanup(func() { testHookBound = nil })
				ln, err := Listen(path, Config{Mode: socketMode})
				require.NoError(t, err, "every name after bind is resolved in an open directory")
				checkVictim(t, target)
				// The socket is where Listen's directory is now.
				sock := path
				if _, err := os.Stat(sockDir + "-moved"); err == nil {
					sock = filepath.Join(sockDir+"-moved", "s.sock")
				}
				st := statOf(t, sock)
				assert.Equal(t, uint32(syscall.S_IFSOCK|socketMode), st.Mode)
				require.NoError(t, ln.Close())
				_, err = os.Lstat(sock)
				assert.ErrorIs(t, err, os.ErrNotExist, "Close removed it from the directory Listen opened")
			})
		}
	}
}

// On Linux, bind(2) resolves a bare name in the private directory Listen
// opened: nothing on the way to it is looked up again.
func TestListenBindsInTheOpenDirectory(t *testing.T) {
	for _, shared := range cwdModes(t) {
		t.Run(cwdName(shared), func(t *testing.T) {
			withSharedCwd(t, shared)
			path := socketPath(t)
			ln, err := Listen(path, Config{})
			require.NoError(t, err)
			defer ln.Close()
			bound := ln.Unwrap().Addr().String()
			if shared {
				assert.Regexp(t, `^`+filepath.Dir(path)+`/\.sock-[0-9a-f]{8}/s$`, bound)
			} else {
				assert.Equal(t, "s", bound)
			}
		})
	}
}

// A socket directory renamed while the listener runs: Close removes the
// socket from the directory Listen opened, and leaves whatever now sits
// at the old path.
func TestCloseActsOnTheOpenDirectory(t *testing.T) {
	checkNoLeaks(t)
	base := shortDir(t)
	dir := filepath.Join(base, "d")
	require.NoError(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "s.sock")
	ln, err := Listen(path, Config{})
	require.NoError(t, err)
	require.NoError(t, os.Rename(dir, dir+"-moved"))
	require.NoError(t, os.Mkdir(dir, 0o700))
	staleSocket(t, path)
	require.NoError(t, ln.Close())
	_, err = os.Lstat(filepath.Join(dir+"-moved", "s.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket Listen made is gone")
	_, err = os.Lstat(path)
	assert.NoError(t, err, "the socket now at the path is not Listen's")
}

// The swapper child: as another user, it watches the directory
// $SWAP_WATCH, in which Listen makes its private directory, and when one
// appears, waits $SWAP_DELAY and swaps a name so that the private socket's
// path leads to $SWAP_TARGET, the victim:
//
//   - SWAP_MODE=parent: the private directory's own name, exchanged
//     (renameat2 RENAME_EXCHANGE) with a directory of its own whose "s"
//     links to the victim (SWAP_KIND=dir), or with a symbolic link to that
//     directory (SWAP_KIND=link);
//   - SWAP_MODE=ancestor: the socket's directory, $SWAP_WATCH, exchanged
//     with a directory of its own beside it in which the private name is
//     such a directory or link.
//
// It prints "swapped", "refused: <error>", or "none" if a file named
// "done" appeared first, and exits.
func init() {
	children["swapper"] = func() int {
		watch, target := os.Getenv("SWAP_WATCH"), os.Getenv("SWAP_TARGET")
		mode, kind := os.Getenv("SWAP_MODE"), os.Getenv("SWAP_KIND")
		delay, err := time.ParseDuration(os.Getenv("SWAP_DELAY"))
		if err != nil {
			fmt.Println(err)
			return 1
		}
		home := watch // where the swapper makes its decoys
		if mode == "ancestor" {
			home = filepath.Dir(watch)
		}
		decoy, link := filepath.Join(home, "decoy"), filepath.Join(home, "link")
		mine := filepath.Join(home, "mine") // the ancestor mode's replacement
		for _, err := range []error{
			os.Mkdir(decoy, 0o755),
			os.Symlink(target, filepath.Join(decoy, "s")),
			os.Symlink("decoy", link),
			os.Mkdir(mine, 0o755),
		} {
			if err != nil {
				fmt.Println(err)
				return 1
			}
		}
		in, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
		if err == nil {
			_, err = syscall.InotifyAddWatch(in, watch, syscall.IN_CREATE)
		}
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("ready")
		swap := func(name string) error {
			if mode == "parent" {
				with := decoy
				if kind == "link" {
					with = link
				}
				return unix.Renameat2(unix.AT_FDCWD, filepath.Join(watch, name), unix.AT_FDCWD, with, unix.RENAME_EXCHANGE)
			}
			var err error
			if kind == "link" {
				err = os.Symlink("../decoy", filepath.Join(mine, name))
			} else if err = os.Mkdir(filepath.Join(mine, name), 0o755); err == nil {
				err = os.Symlink(target, filepath.Join(mine, name, "s"))
			}
			if err != nil {
				return err
			}
			return unix.Renameat2(unix.AT_FDCWD, watch, unix.AT_FDCWD, mine, unix.RENAME_EXCHANGE)
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(in, buf)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				// struct inotify_event: wd, mask, cookie, len, name[len].
				size := int(binary.NativeEndian.Uint32(buf[off+12:]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+size]), "\x00")
				off += syscall.SizeofInotifyEvent + size
				switch {
				case name == "done":
					fmt.Println("none")
					return 0
				case strings.HasPrefix(name, ".sock-"):
					time.Sleep(delay)
					if err := swap(name); err != nil {
						fmt.Println("refused:", err)
					} else {
						fmt.Println("swapped")
					}
					return 0
				}
			}
		}
	}
}

// swapper is a running swapper child.
type swapper struct {
	cmd  *exec.Cmd
	out  *bufio.Scanner
	done chan struct{}
}

// startSwapper starts the swapper child as user 65534 and waits until it
// watches.
func startSwapper(t *testing.T, other nobody, env ...string) *swapper {
	t.Helper()
	cmd := exec.Command(other.bin)
	cmd.Env = append([]string{childEnv + "=swapper", "PATH=/usr/bin:/bin", noRaceExitSleep}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &swapper{cmd: cmd, out: bufio.NewScanner(stdout), done: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, stdout)
			_ = cmd.Wait()
		}
	})
	require.True(t, s.out.Scan(), "the swapper says nothing")
	require.Equal(t, "ready", s.out.Text())
	return s
}

// result tells the swapper to stop if it saw nothing yet and returns what
// it did.
func (s *swapper) result(t *testing.T, watch string) string {
	t.Helper()
	// Once the swapper acted this lands wherever the path leads now,
	// where nobody is watching: harmless.
	_ = os.WriteFile(filepath.Join(watch, "done"), nil, 0o600)
	var line string
	if s.out.Scan() {
		line = s.out.Text()
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		close(s.done)
		require.NoError(t, err, "the swapper: %s", line)
	case <-time.After(10 * time.Second):
		t.Fatalf("the swapper did not exit; it said %q", line)
	}
	return line
}

// A swapping attacker, a process of user 65534 that watches the socket's
// directory with inotify, races Listen run by root: it swaps the private
// directory, or the directory above it, so that the private socket's path
// leads to a file of root's, mode 0644, the moment it appears, or a few
// milliseconds later while Listen is held between bind and chmod. Before
// issue 11 was fixed, a root server made that file 0666. Now: the victim
// is never touched, and Listen refuses a directory the attacker may write
// to, succeeds with the socket where its open directory is, or fails with
// ErrUnsafeDirectory. Tests run as root in CI; elsewhere this one skips.
func TestListenSwapAttack(t *testing.T) {
	other := asNobody(t)
	type round struct {
		kind        string        // what the swapper swaps in: "dir" or "link"
		delay, hold time.Duration // the swapper's wait; Listen's between bind and chmod
	}
	var rounds []round
	for _, kind := range []string{"dir", "link"} {
		// The held rounds first: before the fix, the first round lost.
		rounds = append(rounds, round{kind, 5 * time.Millisecond, 100 * time.Millisecond}, round{kind, 0, 100 * time.Millisecond}, round{kind, 0, 0})
	}
	// setup makes the directories of one round, returning the one the
	// swapper watches, in which the socket is made.
	type setup func(t *testing.T, base string) string
	owned := func(t *testing.T, path string, mode os.FileMode, uid int) {
		require.NoError(t, os.Mkdir(path, 0o700))
		require.NoError(t, os.Chmod(path, mode))
		require.NoError(t, os.Chown(path, uid, uid))
	}
	tests := []struct {
		name, mode string
		setup      setup
		shared     []bool
		// check judges a round's outcome; once is what the swapper must
		// say in one round at least.
		check func(t *testing.T, err error, said string)
		once  string
	}{
		{
			name: "socket's directory the attacker's", mode: "parent", shared: []bool{false},
			setup: func(t *testing.T, base string) string {
				dir := filepath.Join(base, "p")
				owned(t, dir, 0o755, 65534)
				return dir
			},
			check: func(t *testing.T, err error, said string) {
				require.ErrorIs(t, err, ErrUnsafeDirectory)
				assert.Equal(t, "none", said, "refused before making the private directory")
			},
			once: "none",
		},
		{
			name: "directory above the attacker's", mode: "ancestor", shared: cwdModes(t),
			setup: func(t *testing.T, base string) string {
				above := filepath.Join(base, "a")
				owned(t, above, 0o755, 65534)
				dir := filepath.Join(above, "p")
				owned(t, dir, 0o755, 0)
				return dir
			},
			check: func(t *testing.T, err error, said string) {
				if err != nil {
					require.ErrorIs(t, err, ErrUnsafeDirectory)
					assert.False(t, ownCwd() && !testHookSharedCwd, "only a full path can be led elsewhere: %v", err)
				}
				assert.Equal(t, "swapped", said)
			},
			once: "swapped",
		},
		{
			name: "sticky directory, like /tmp", mode: "parent", shared: []bool{false},
			setup: func(t *testing.T, base string) string {
				dir := filepath.Join(base, "p")
				owned(t, dir, 0o777|os.ModeSticky, 0)
				return dir
			},
			check: func(t *testing.T, err error, said string) {
				require.NoError(t, err)
				// Too late, the private directory is gone already.
				assert.Regexp(t, `^refused: (operation not permitted|no such file or directory)$`, said)
			},
			// The sticky bit keeps others from renaming Listen's directory.
			once: "refused: operation not permitted",
		},
	}
	for _, tt := range tests {
		for _, shared := range tt.shared {
			t.Run(tt.name+"/"+cwdName(shared), func(t *testing.T) {
				withSharedCwd(t, shared)
				var saids []string
				for _, r := range rounds {
					base := publicDir(t, 0o755)
					target := victim(t, base)
					watch := tt.setup(t, base)
					sw := startSwapper(t, other, "SWAP_WATCH="+watch, "SWAP_TARGET="+target,
						"SWAP_MODE="+tt.mode, "SWAP_KIND="+r.kind, "SWAP_DELAY="+r.delay.String())
					testHookBound = func(string) { time.Sleep(r.hold) }
					ln, err := Listen(filepath.Join(watch, "s.sock"), Config{Mode: socketMode})
					testHookBound = nil
					if err == nil {
						require.NoError(t, ln.Close())
					}
					said := sw.result(t, watch)
					t.Logf("%+v: swapper %q, Listen: %v", r, said, err)
					checkVictim(t, target)
					tt.check(t, err, said)
					saids = append(saids, said)
				}
				assert.Contains(t, saids, tt.once)
			})
		}
	}
}
