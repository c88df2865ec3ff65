package limits

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/net/http2"
)

// Each connection's limits are drawn up to 10% lower, at random.
func TestLifetimeJitter(t *testing.T) {
	lim, err := New(Config{MaxConnectionAge: time.Minute, MaxRequestsPerConnection: 1000})
	require.NoError(t, err)
	ages, reqs := map[time.Duration]bool{}, map[int64]bool{}
	for range 1000 {
		lt := lim.newLifetime(time.Now())
		assert.GreaterOrEqual(t, lt.maxAge, 54*time.Second)
		assert.LessOrEqual(t, lt.maxAge, time.Minute)
		assert.GreaterOrEqual(t, lt.maxReqs, int64(900))
		assert.LessOrEqual(t, lt.maxReqs, int64(1000))
		ages[lt.maxAge], reqs[lt.maxReqs] = true, true
	}
	assert.Greater(t, len(ages), 100, "ages spread")
	assert.Greater(t, len(reqs), 50, "request counts spread")

	// Under ten requests there is nothing to take 10% of.
	lim, err = New(Config{MaxRequestsPerConnection: 9})
	require.NoError(t, err)
	assert.EqualValues(t, 9, lim.newLifetime(time.Now()).maxReqs)
}

// get1 sends a GET on c and reads its response.
func get1(t *testing.T, c *testserver.Conn) *http.Response {
	t.Helper()
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := c.Response(t)
	return res
}

// Over HTTP/1.1 the request that reaches MaxRequestsPerConnection is
// answered with Connection: close, and the server closes the connection.
func TestMaxRequestsPerConnectionHTTP1(t *testing.T) {
	for _, name := range []string{"Limiter", "ConnectionLifetime"} {
		t.Run(name, func(t *testing.T) {
			checkNoLeaks(t)
			lim := ConnectionLifetime(0, 5)
			if name == "Limiter" {
				var err error
				lim, err = New(Config{MaxRequestsPerConnection: 5})
				require.NoError(t, err)
			}
			s := serve(t, lim, hello, h1)
			c := dial(t, s.Addr())
			for i := 1; i < 5; i++ {
				res := get1(t, c)
				assert.False(t, res.Close, "request %d keeps the connection", i)
			}
			res := get1(t, c)
			assert.Equal(t, 200, res.StatusCode)
			assert.True(t, res.Close, "the fifth request's response says Connection: close")
			assert.True(t, c.ClosedByPeer(t), "the server closed the connection")
			st := lim.Stats()
			assert.EqualValues(t, 1, st.ConnectionsRetiredByRequests)
			assert.Zero(t, st.ConnectionsRetiredByAge)
			assert.Zero(t, st.RejectedTotal(), "retiring is no refusal")
		})
	}
}

// Over HTTP/1.1 the first request after MaxConnectionAge retires the
// connection; one before it does not.
func TestMaxConnectionAgeHTTP1(t *testing.T) {
	checkNoLeaks(t)
	lim, err := New(Config{MaxConnectionAge: 300 * time.Millisecond})
	require.NoError(t, err)
	s := serve(t, lim, hello, h1)
	c := dial(t, s.Addr())
	assert.False(t, get1(t, c).Close, "a young connection is kept")
	time.Sleep(400 * time.Millisecond)
	assert.True(t, get1(t, c).Close, "an old one is answered with Connection: close")
	assert.True(t, c.ClosedByPeer(t))
	assert.EqualValues(t, 1, lim.Stats().ConnectionsRetiredByAge)
}

// Through net/http's client, retired connections are replaced without an
// error: each of its connections serves at most the limit.
func TestMaxRequestsPerConnectionClient(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			checkNoLeaks(t)
			lim, err := New(Config{MaxRequestsPerConnection: 3})
			require.NoError(t, err)
			var mu sync.Mutex
			carried := map[string]int{} // requests by connection (its client's address)
			counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				carried[r.RemoteAddr]++
				mu.Unlock()
				hello(w, r)
			})
			s := serve(t, lim, counting, p)
			for range 10 {
				code, body := s.Get(t, "/", nil)
				require.Equal(t, 200, code)
				require.Equal(t, "hello\n", body)
			}
			eventually(t, func() bool { return lim.Stats().ConnectionsRetiredByRequests == 3 },
				"retired %d connections, want 3", lim.Stats().ConnectionsRetiredByRequests)
			mu.Lock()
			defer mu.Unlock()
			assert.Len(t, carried, 4, "connections that carried requests: %v", carried)
			for addr, n := range carried {
				assert.LessOrEqual(t, n, 3, "%s carried %d requests", addr, n)
			}
			// net/http's HTTP/2 client may dial a connection it then finds
			// it does not need (two dials racing a GOAWAY), and close it
			// unused: it is accepted, but carries nothing.
			assert.GreaterOrEqual(t, lim.Stats().AcceptedConnections, uint64(4))
		})
	}
}

// h2Events is what a raw HTTP/2 connection saw, in order.
type h2Events struct {
	goAway     *http2.GoAwayFrame
	ended      map[uint32]bool // streams that ended
	endedAfter map[uint32]bool // of them, those that ended after the GOAWAY
	status     map[uint32]string
	eof        bool // the server closed the connection
}

func newH2Events() *h2Events {
	return &h2Events{ended: map[uint32]bool{}, endedAfter: map[uint32]bool{}, status: map[uint32]string{}}
}

// readH2 reads frames into ev until the connection ends, or until stop says
// so.
func readH2(t *testing.T, h *h2Client, ev *h2Events, stop func(*h2Events) bool) {
	t.Helper()
	for !stop(ev) {
		f, err := h.fr.ReadFrame()
		if err == io.EOF {
			ev.eof = true
			return
		}
		require.NoError(t, err)
		end := func(id uint32) {
			ev.ended[id] = true
			ev.endedAfter[id] = ev.goAway != nil
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, h.fr.WriteSettingsAck())
			}
		case *http2.GoAwayFrame:
			ev.goAway = f
		case *http2.HeadersFrame:
			fields, err := h.dec.DecodeFull(f.HeaderBlockFragment())
			require.NoError(t, err)
			for _, hf := range fields {
				if hf.Name == ":status" {
					ev.status[f.StreamID] = hf.Value
				}
				assert.NotEqual(t, "connection", hf.Name, "no Connection field over HTTP/2")
			}
			if f.StreamEnded() {
				end(f.StreamID)
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				end(f.StreamID)
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		}
	}
}

// sendH2 opens a stream with a GET for path and returns its id.
func sendH2(t *testing.T, h *h2Client, path string) uint32 {
	t.Helper()
	h.encBuf.Reset()
	for _, f := range h.get("x", path) {
		require.NoError(t, h.enc.WriteField(f))
	}
	id := h.stream
	h.stream += 2
	require.NoError(t, h.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: h.encBuf.Bytes(), EndStream: true, EndHeaders: true,
	}))
	return id
}

// Over HTTP/2 (h2c and TLS) the stream that reaches a limit makes the
// server send GOAWAY (NO_ERROR); a stream in flight then completes, and the
// server closes the connection once it has.
func TestConnectionLifetimeHTTP2GoAway(t *testing.T) {
	for _, p := range []proto{h2c, h2tls} {
		for _, limit := range []string{"requests", "age"} {
			t.Run(string(p)+"/"+limit, func(t *testing.T) {
				checkNoLeaks(t)
				cfg := Config{MaxRequestsPerConnection: 2}
				if limit == "age" {
					cfg = Config{MaxConnectionAge: 300 * time.Millisecond}
				}
				lim, err := New(cfg)
				require.NoError(t, err)
				release := make(chan struct{})
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/slow" {
						w.WriteHeader(200)
						http.NewResponseController(w).Flush()
						<-release
					}
					_, _ = io.WriteString(w, "done\n")
				})
				s := serve(t, lim, h, p)
				hc := dialH2(t, s)
				slow := sendH2(t, hc, "/slow")
				ev := newH2Events()
				readH2(t, hc, ev, func(ev *h2Events) bool { return ev.status[slow] != "" })
				require.Nil(t, ev.goAway)
				if limit == "age" {
					time.Sleep(400 * time.Millisecond)
				}
				last := sendH2(t, hc, "/")
				readH2(t, hc, ev, func(ev *h2Events) bool { return ev.goAway != nil && ev.ended[last] })
				assert.Equal(t, http2.ErrCodeNo, ev.goAway.ErrCode, "a graceful GOAWAY")
				assert.GreaterOrEqual(t, ev.goAway.LastStreamID, last, "the streams open are kept")
				assert.False(t, ev.ended[slow], "the slow stream is still in flight")

				close(release)
				readH2(t, hc, ev, func(ev *h2Events) bool { return ev.eof })
				assert.True(t, ev.ended[slow], "the in-flight stream completed")
				assert.True(t, ev.endedAfter[slow], "after the GOAWAY")
				assert.True(t, ev.eof, "then the server closed the connection")
				st := lim.Stats()
				if limit == "age" {
					assert.EqualValues(t, 1, st.ConnectionsRetiredByAge)
				} else {
					assert.EqualValues(t, 1, st.ConnectionsRetiredByRequests)
				}
			})
		}
	}
}

// An upgrade request that reaches the limit keeps its answer free of
// "Connection: close"; if the upgrade is refused, the next request retires
// the connection.
func TestLifetimeLeavesUpgradesAlone(t *testing.T) {
	checkNoLeaks(t)
	lim := ConnectionLifetime(0, 2)
	s := serve(t, lim, hello, h1)
	c := dial(t, s.Addr())
	assert.False(t, get1(t, c).Close)
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	res, _ := c.Response(t)
	assert.False(t, res.Close, "the upgrade request, the second, is not answered with Connection: close")
	assert.True(t, get1(t, c).Close, "the third retires the connection")
	assert.EqualValues(t, 1, lim.Stats().ConnectionsRetiredByRequests)
}

// Without Apply there is no lifetime to count against: the Handler serves
// and never retires.
func TestConnectionLifetimeNeedsApply(t *testing.T) {
	lim := ConnectionLifetime(0, 1)
	s := startServer(t, lim.Handler(hello), h1, func(*httptest.Server) {})
	c := dial(t, s.Addr())
	assert.False(t, get1(t, c).Close)
	assert.False(t, get1(t, c).Close)
	assert.Zero(t, lim.Stats().ConnectionsRetiredByRequests)
}

// Counting a request against its connection's lifetime allocates nothing;
// only the request that retires the connection sets a header.
func TestLifetimeAllocations(t *testing.T) {
	lim, err := New(Config{MaxConnectionAge: time.Hour, MaxRequestsPerConnection: 1 << 30})
	require.NoError(t, err)
	h := lim.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ctx := lim.lifetimeContext(context.Background())
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	w := testserver.NewNopWriter()
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Fatalf("%v allocations a request", n)
	}
	assert.Empty(t, w.H, "no header on a request that retires nothing")
}
