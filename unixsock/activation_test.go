package unixsock

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseListenEnv(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name                string
		listenPID, fds, fdn string
		want                []string
		notActivated        bool
		err                 string
	}{
		{name: "unset", notActivated: true, err: "windhover/unixsock: not started by socket activation (LISTEN_PID is not set)"},
		{name: "another process", listenPID: "1", fds: "1", notActivated: true,
			err: "windhover/unixsock: not started by socket activation (LISTEN_PID=1 is another process; this is 4242)"},
		{name: "no count", listenPID: "4242", notActivated: true,
			err: "windhover/unixsock: not started by socket activation (LISTEN_FDS is not set)"},
		{name: "one unnamed", listenPID: "4242", fds: "1", want: []string{"unknown"}},
		{name: "three unnamed", listenPID: "4242", fds: "3", want: []string{"unknown", "unknown", "unknown"}},
		{name: "named", listenPID: "4242", fds: "3", fdn: "http:https:http", want: []string{"http", "https", "http"}},
		{name: "empty names kept", listenPID: "4242", fds: "3", fdn: "a::", want: []string{"a", "", ""}},
		{name: "empty names variable", listenPID: "4242", fds: "2", fdn: "", want: []string{"unknown", "unknown"}},
		{name: "largest count", listenPID: "4242", fds: "65536"},
		{name: "leading zeros", listenPID: "0004242", fds: "01", want: []string{"unknown"}},

		{name: "pid zero", listenPID: "0", fds: "1", err: `windhover/unixsock: LISTEN_PID="0" is not a process ID`},
		{name: "pid negative", listenPID: "-4242", fds: "1", err: `windhover/unixsock: LISTEN_PID="-4242" is not a process ID`},
		{name: "pid signed", listenPID: "+4242", fds: "1", err: `windhover/unixsock: LISTEN_PID="+4242" is not a process ID`},
		{name: "pid spaced", listenPID: " 4242", fds: "1", err: `windhover/unixsock: LISTEN_PID=" 4242" is not a process ID`},
		{name: "pid huge", listenPID: "99999999999999999999", fds: "1", err: `windhover/unixsock: LISTEN_PID="99999999999999999999" is not a process ID`},
		{name: "pid word", listenPID: "self", fds: "1", err: `windhover/unixsock: LISTEN_PID="self" is not a process ID`},
		{name: "count zero", listenPID: "4242", fds: "0", err: `windhover/unixsock: LISTEN_FDS="0" is not a count from 1 to 65536`},
		{name: "count negative", listenPID: "4242", fds: "-1", err: `windhover/unixsock: LISTEN_FDS="-1" is not a count from 1 to 65536`},
		{name: "count over", listenPID: "4242", fds: "65537", err: `windhover/unixsock: LISTEN_FDS="65537" is not a count from 1 to 65536`},
		{name: "count huge", listenPID: "4242", fds: "2147483647", err: `windhover/unixsock: LISTEN_FDS="2147483647" is not a count from 1 to 65536`},
		{name: "count hex", listenPID: "4242", fds: "0x2", err: `windhover/unixsock: LISTEN_FDS="0x2" is not a count from 1 to 65536`},
		{name: "too few names", listenPID: "4242", fds: "3", fdn: "a:b", err: "windhover/unixsock: LISTEN_FDNAMES names 2 descriptors, LISTEN_FDS=3"},
		{name: "too many names", listenPID: "4242", fds: "1", fdn: "a:b", err: "windhover/unixsock: LISTEN_FDNAMES names 2 descriptors, LISTEN_FDS=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, err := parseListenEnv(pid, tt.listenPID, tt.fds, tt.fdn)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				assert.Equal(t, tt.notActivated, errors.Is(err, ErrNotActivated))
				assert.Nil(t, names)
				return
			}
			require.NoError(t, err)
			if tt.want != nil {
				assert.Equal(t, tt.want, names)
			} else {
				assert.Len(t, names, 65536)
			}
		})
	}
}

// FuzzParseListenEnv checks that the LISTEN_* parser never panics and that
// what it accepts is exactly what the protocol allows.
func FuzzParseListenEnv(f *testing.F) {
	f.Add(4242, "4242", "2", "http:https")
	f.Add(4242, "4242", "1", "")
	f.Add(4242, "", "", "")
	f.Add(4242, "1", "1", "x")
	f.Add(4242, "4242", "0", "")
	f.Add(4242, "4242", "65537", "")
	f.Add(1, "1", "3", "a::")
	f.Add(7, "7", "2", ":")
	f.Add(7, "+7", "1", "")
	f.Add(7, "7", "99999999999999999999", "")
	f.Fuzz(func(t *testing.T, pid int, listenPID, listenFDs, listenFDNames string) {
		names, err := parseListenEnv(pid, listenPID, listenFDs, listenFDNames)
		if err != nil {
			if names != nil {
				t.Fatalf("names %q with error %v", names, err)
			}
			if errors.Is(err, ErrNotActivated) {
				p, perr := strconv.Atoi(listenPID)
				if listenPID != "" && listenFDs != "" && (perr != nil || p == pid) {
					t.Fatalf("not activated with LISTEN_PID=%q for pid %d, LISTEN_FDS=%q: %v", listenPID, pid, listenFDs, err)
				}
			}
			return
		}
		if listenPID == "" || strings.TrimLeft(listenPID, "0123456789") != "" {
			t.Fatalf("accepted LISTEN_PID=%q", listenPID)
		}
		if p, _ := strconv.Atoi(listenPID); p != pid || p <= 0 {
			t.Fatalf("accepted LISTEN_PID=%q for pid %d", listenPID, pid)
		}
		n, cerr := strconv.Atoi(listenFDs)
		if cerr != nil || strings.TrimLeft(listenFDs, "0123456789") != "" || n < 1 || n > maxListenFDs {
			t.Fatalf("accepted LISTEN_FDS=%q", listenFDs)
		}
		if len(names) != n {
			t.Fatalf("LISTEN_FDS=%q gave %d names", listenFDs, len(names))
		}
		if listenFDNames == "" {
			for _, name := range names {
				if name != unknownName {
					t.Fatalf("unnamed descriptor named %q", name)
				}
			}
		} else if got := strings.Join(names, ":"); got != listenFDNames {
			t.Fatalf("LISTEN_FDNAMES=%q gave %q", listenFDNames, names)
		}
	})
}

func TestSocketsLookup(t *testing.T) {
	a, b, c := &fakeListener{name: "a"}, &fakeListener{name: "b"}, &fakeListener{name: "c"}
	ss := Sockets{
		{Name: "http", FD: 3, Listener: a},
		{Name: "dns", FD: 4},
		{Name: "admin", FD: 5, Listener: b},
		{Name: "http", FD: 6, Listener: c},
	}
	assert.Equal(t, []net.Listener{a, c}, ss.Listeners("http"))
	assert.Equal(t, []net.Listener{a, b, c}, ss.Listeners(""))
	assert.Nil(t, ss.Listeners("dns"))
	assert.Same(t, a, ss.Listener("http"))
	assert.Same(t, b, ss.Listener("admin"))
	assert.Nil(t, ss.Listener("dns"))
	assert.Nil(t, ss.Listener(""))
	require.NoError(t, ss.Close())
	assert.True(t, a.closed && b.closed && c.closed)
}

type fakeListener struct {
	name   string
	closed bool
}

func (l *fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *fakeListener) Close() error              { l.closed = true; return nil }
func (l *fakeListener) Addr() net.Addr            { return &net.UnixAddr{Name: l.name, Net: "unix"} }
