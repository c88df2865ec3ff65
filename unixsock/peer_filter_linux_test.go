//go:build linux

package unixsock

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// requestFrom returns a request whose context holds cred, as ConnContext
// would have put it there.
func requestFrom(cred *PeerCred) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	if cred != nil {
		r = r.WithContext(context.WithValue(r.Context(), credKey, *cred))
	}
	return r
}

func TestNewPeerFilterErrors(t *testing.T) {
	tests := []struct {
		cfg  PeerConfig
		want string
	}{
		{PeerConfig{UIDs: []int{0, -1}}, "windhover/unixsock: PeerConfig.UIDs[1] = -1 is not a user or group ID (0 to 4294967294)"},
	}
	if strconv.IntSize == 64 {
		tests = append(tests, []struct {
			cfg  PeerConfig
			want string
		}{
			{PeerConfig{GIDs: []int{wideInt(1 << 32)}}, "windhover/unixsock: PeerConfig.GIDs[0] = 4294967296 is not a user or group ID (0 to 4294967294)"},
			{PeerConfig{UIDs: []int{wideInt(1<<32 - 1)}}, "windhover/unixsock: PeerConfig.UIDs[0] = 4294967295 is not a user or group ID (0 to 4294967294)"},
		}...)
	}
	for _, tt := range tests {
		f, err := NewPeerFilter(tt.cfg)
		assert.Nil(t, f)
		assert.EqualError(t, err, tt.want)
	}
}

func TestPeerFilterAdmits(t *testing.T) {
	zero, err := NewPeerFilter(PeerConfig{})
	require.NoError(t, err)
	uids := []int{0, 1000}
	byIDs, err := NewPeerFilter(PeerConfig{UIDs: uids, GIDs: []int{33}})
	require.NoError(t, err)
	uids[1] = 7 // the filter keeps its own copy
	groupOnly, err := NewPeerFilter(PeerConfig{GIDs: []int{33}})
	require.NoError(t, err)

	tests := []struct {
		f    *PeerFilter
		cred PeerCred
		want bool
	}{
		{zero, PeerCred{UID: os.Geteuid(), GID: 12345}, true},
		{zero, PeerCred{UID: os.Geteuid() + 1, GID: os.Getegid()}, false},
		{byIDs, PeerCred{UID: 0, GID: 5}, true},
		{byIDs, PeerCred{UID: 1000, GID: 5}, true},
		{byIDs, PeerCred{UID: 7, GID: 5}, false},
		{byIDs, PeerCred{UID: 1001, GID: 33}, true},
		{byIDs, PeerCred{UID: 1001, GID: 34}, false},
		{groupOnly, PeerCred{UID: os.Geteuid(), GID: 34}, false},
		{groupOnly, PeerCred{UID: 5, GID: 33}, true},
	}
	for i, tt := range tests {
		assert.Equal(t, tt.want, tt.f.Admits(tt.cred), "case %d: %v", i, tt.cred)
	}
}

func TestPeerFilterCheck(t *testing.T) {
	var mu sync.Mutex
	var rejected []error
	f, err := NewPeerFilter(PeerConfig{UIDs: []int{1000}, OnReject: func(r *http.Request, err error) {
		mu.Lock()
		defer mu.Unlock()
		rejected = append(rejected, err)
	}})
	require.NoError(t, err)

	assert.NoError(t, f.Check(requestFrom(&PeerCred{UID: 1000, GID: 1, PID: 7})))
	err = f.Check(requestFrom(&PeerCred{UID: 1001, GID: 1, PID: 7}))
	require.ErrorIs(t, err, ErrPeerNotAllowed)
	assert.EqualError(t, err, "windhover/unixsock: peer not allowed (uid=1001 gid=1 pid=7)")
	err = f.Check(requestFrom(nil))
	require.ErrorIs(t, err, ErrNoPeerCred)
	assert.EqualError(t, err, "windhover/unixsock: connection has no peer credentials")

	assert.Equal(t, PeerStats{Admitted: 1, Rejected: [NumReasons]uint64{ReasonNoPeerCred: 1, ReasonPeerNotAllowed: 1}}, f.Stats())
	assert.Equal(t, uint64(2), f.Stats().RejectedTotal())
	require.Len(t, rejected, 2)
	var pe *PeerError
	require.True(t, errors.As(rejected[1], &pe))
	assert.Equal(t, ReasonNoPeerCred, pe.Reason)
	assert.Equal(t, "no_peer_cred", pe.Reason.String())
	assert.Equal(t, "peer_not_allowed", ReasonPeerNotAllowed.String())
	assert.Equal(t, "reason_9", Reason(9).String())
}

func TestPeerFilterCheckDoesNotAllocate(t *testing.T) {
	f, err := NewPeerFilter(PeerConfig{UIDs: []int{1, 2, 3, 1000}, GIDs: []int{5}})
	require.NoError(t, err)
	r := requestFrom(&PeerCred{UID: 1000})
	allocs := testing.AllocsPerRun(100, func() {
		if f.Check(r) != nil {
			t.Fatal("refused")
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkPeerFilterCheck(b *testing.B) {
	f, err := NewPeerFilter(PeerConfig{UIDs: []int{1, 2, 3, 1000}, GIDs: []int{5}})
	require.NoError(b, err)
	r := requestFrom(&PeerCred{UID: 1000})
	b.ReportAllocs()
	for b.Loop() {
		if f.Check(r) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkPeerCredFromConn(b *testing.B) {
	path := socketPath(b)
	ln, err := Listen(path, Config{})
	require.NoError(b, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1))
		}
	}()
	c, err := net.Dial("unix", path)
	require.NoError(b, err)
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PeerCredFromConn(c); err != nil {
			b.Fatal(err)
		}
	}
}

// A refused peer gets 403; over HTTP/1 its connection is closed, over
// HTTP/2 only the stream ends.
func TestPeerFilterHandler(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			checkNoLeaks(t)
			f, err := NewPeerFilter(PeerConfig{UIDs: []int{os.Geteuid() + 1}})
			require.NoError(t, err)
			ln, err := Listen(socketPath(t), Config{})
			require.NoError(t, err)
			c, base := serve(t, ln, f.Handler(whoami), p, withConnContext)
			// One connection at most, so that a second one means the
			// server closed the first, not that the client dialed ahead.
			c.Transport.(*http.Transport).MaxConnsPerHost = 1
			res, err := c.Get(base + "/")
			require.NoError(t, err)
			body := readAll(t, res)
			assert.Equal(t, 403, res.StatusCode)
			assert.Equal(t, "Forbidden\n", body)
			assert.Equal(t, p == h1, res.Close, "Connection: close over HTTP/1")
			status, _, _ := get(t, c, base+"/")
			assert.Equal(t, 403, status)
			want := uint64(1) // both streams on the one connection
			if p == h1 {
				want = 2 // the first was closed after the 403
			}
			assert.Equal(t, want, ln.Stats().Accepted)
			assert.Equal(t, uint64(2), f.Stats().Rejected[ReasonPeerNotAllowed])
			assert.Zero(t, f.Stats().Admitted)
		})
	}
}

// A refused peer's request whose body never comes gets its 403 at once and
// its connection closed, where net/http alone would first wait to read the
// body to keep the connection (refuse.SkipBody).
func TestPeerFilterRefusedBodyClosesConnection(t *testing.T) {
	checkNoLeaks(t)
	f, err := NewPeerFilter(PeerConfig{UIDs: []int{os.Geteuid() + 1}})
	require.NoError(t, err)
	ln, err := Listen(socketPath(t), Config{})
	require.NoError(t, err)
	serve(t, ln, f.Handler(whoami), h1, withConnContext)
	nc, err := net.DialTimeout("unix", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { nc.Close() })
	c := &testserver.Conn{Conn: nc, R: bufio.NewReader(nc)}
	c.Send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
	start := time.Now()
	res, body := c.Response(t)
	assert.Equal(t, 403, res.StatusCode)
	assert.Equal(t, "Forbidden\n", body)
	assert.True(t, res.Close, "Connection: close")
	assert.True(t, c.ClosedByPeer(t))
	assert.Less(t, time.Since(start), 3*time.Second, "closed at once, not by the test's 5 s read deadline")
	assert.Equal(t, uint64(1), f.Stats().Rejected[ReasonPeerNotAllowed])
}

func TestPeerFilterHandlerAdmits(t *testing.T) {
	f, err := NewPeerFilter(PeerConfig{})
	require.NoError(t, err)
	for _, p := range allProtos {
		ln, err := Listen(socketPath(t), Config{})
		require.NoError(t, err)
		c, base := serve(t, ln, f.Handler(whoami), p, withConnContext)
		status, _, body := get(t, c, base+"/")
		assert.Equal(t, 200, status, "%s", p)
		assert.Equal(t, me()+" next=true", body)
	}
	assert.Equal(t, uint64(3), f.Stats().Admitted)
}

// Over TCP there are no credentials: refused, fail closed.
func TestPeerFilterOverTCP(t *testing.T) {
	f, err := NewPeerFilter(PeerConfig{})
	require.NoError(t, err)
	for _, p := range testserver.All {
		s := testserver.Start(t, f.Handler(whoami), p, func(ts *httptest.Server) {
			ts.Config.ConnContext = ConnContext(nil)
		})
		status, body := s.Get(t, "/", nil)
		assert.Equal(t, 403, status, "%s", p)
		assert.Equal(t, "Forbidden\n", body)
	}
	assert.Equal(t, uint64(3), f.Stats().Rejected[ReasonNoPeerCred])
}

// "OPTIONS *" is checked like any other request once the server hands it to
// its Handler: a refused peer gets 403, an admitted one net/http's empty
// 200, and the application never sees it.
func TestPeerFilterOptionsStar(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the application saw %s %s", r.Method, r.RequestURI)
	})
	disable := func(s *http.Server) { s.DisableGeneralOptionsHandler = true }
	for _, tc := range []struct {
		uid    int
		status int
	}{{os.Geteuid() + 1, 403}, {os.Geteuid(), 200}} {
		f, err := NewPeerFilter(PeerConfig{UIDs: []int{tc.uid}})
		require.NoError(t, err)
		ln, err := Listen(socketPath(t), Config{})
		require.NoError(t, err)
		serve(t, ln, f.Handler(app), h1, withConnContext, disable)
		nc, err := net.DialTimeout("unix", ln.Addr().String(), 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
		t.Cleanup(func() { nc.Close() })
		c := &testserver.Conn{Conn: nc, R: bufio.NewReader(nc)}
		c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
		res, _ := c.Response(t)
		assert.Equal(t, tc.status, res.StatusCode, "uid %d", tc.uid)
	}
}
