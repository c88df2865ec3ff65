package metrics

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/limits"
)

const (
	connDuration  = "windhover_connection_duration_seconds"
	activeConns   = "windhover_active_connections"
	upgradedConns = "windhover_upgraded_connections"
)

// connSeries returns the line of one connection duration series with one
// bucket.
func connSeries(transport, proto, tlsVersion, state, errorType string, count int) string {
	netType, protoName := "", ""
	if transport == "tcp" {
		netType = "ipv4"
	}
	if proto != "" {
		protoName = "http"
	}
	labels := labelString("error_type", errorType, "network_protocol_name", protoName, "network_protocol_version", proto,
		"network_transport", transport, "network_type", netType, "state", state, "tls_protocol_version", tlsVersion)
	return histogram(connDuration, labels, "600", count, 0)
}

// TestConnectionSeries closes connections in each state net/http reports and
// checks the series they leave.
func TestConnectionSeries(t *testing.T) {
	for _, tc := range []struct {
		server       testserver.Proto
		version, tls string
		raw          bool // the server speaks plaintext HTTP/1
	}{
		{testserver.H1, "1.1", "", true},
		{testserver.H2C, "2", "", true},
		{testserver.H2, "2", "1.3", false},
	} {
		t.Run(string(tc.server), func(t *testing.T) {
			testserver.CheckNoLeaks(t)
			m, reg := newMetrics(t, testConfig)
			s := serve(t, m, routes(), tc.server)

			// A keep-alive connection the client closes while idle.
			status, _ := s.Get(t, "/items/1", nil)
			require.Equal(t, 200, status)
			assert.Equal(t, 1.0, value(t, reg, activeConns, "network_transport", "tcp"))
			s.Transport.CloseIdleConnections()

			// A connection closed before any request.
			testserver.Dial(t, s.Addr()).Close()
			eventually(t, reg, 1, connDuration, "state", "new")

			want := connSeries("tcp", "", "", "new", "", 1) + connSeries("tcp", tc.version, tc.tls, "idle", "", 1)
			if tc.raw {
				// Connections closed by the server after a response.
				for _, req := range []string{
					"GET /items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
					"GET /items/1 HTTP/1.0\r\n\r\n",
				} {
					c := testserver.Dial(t, s.Addr())
					c.Send(t, req)
					require.True(t, c.ClosedByPeer(t))
				}
				want += connSeries("tcp", "1.0", "", "active", "", 1) + connSeries("tcp", "1.1", "", "active", "", 1)
			}
			eventually(t, reg, 0, activeConns, "network_transport", "tcp")
			expect(t, reg, want+`windhover_active_connections{network_transport="tcp",network_type="ipv4"} 0`+"\n", connDuration, activeConns)
			lint(t, m)
		})
	}
}

// TestConnectionClosedActive closes an HTTP/2 connection with a stream open.
func TestConnectionClosedActive(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	entered := make(chan struct{})
	s := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}), testserver.H2C)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/", nil)
		if res, err := s.Client.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	s.CloseClientConnections()
	eventually(t, reg, 1, connDuration, "state", "active", "network_protocol_version", "2")
}

func TestHooksChained(t *testing.T) {
	type userKey struct{}
	var mu sync.Mutex
	var states []http.ConnState
	var seen any
	m, reg := newMetrics(t, testConfig)
	s := testserver.Start(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Context().Value(userKey{})
		mu.Unlock()
	})), testserver.H1, func(ts *httptest.Server) {
		ts.Config.ConnState = func(c net.Conn, state http.ConnState) {
			mu.Lock()
			states = append(states, state)
			mu.Unlock()
		}
		ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, userKey{}, "user")
		}
		m.Apply(ts.Config)
	})
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.True(t, c.ClosedByPeer(t))
	eventually(t, reg, 1, connDuration, "state", "active")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "user", seen)
	assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateClosed}, states)
}

// TestWithLimits runs m's hooks and limits' on one server: the connection
// limit closes the second connection at once, which m sees closed new.
func TestWithLimits(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	lim := limits.MaxConcurrentConnections(1)
	s := testserver.Start(t, m.Handler(routes()), testserver.H1, func(ts *httptest.Server) {
		require.NoError(t, lim.Apply(ts.Config))
		m.Apply(ts.Config)
	})
	first := testserver.Dial(t, s.Addr())
	first.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := first.Response(t)
	require.Equal(t, 200, res.StatusCode)
	second := testserver.Dial(t, s.Addr())
	require.True(t, second.ClosedByPeer(t))
	eventually(t, reg, 1, connDuration, "state", "new")
	assert.Equal(t, 1.0, value(t, reg, activeConns))
	first.Close()
	eventually(t, reg, 0, activeConns)
	assert.Equal(t, 1.0, value(t, reg, connDuration, "state", "idle", "network_protocol_version", "1.1"))
	assert.Equal(t, uint64(1), lim.Stats().Rejected[limits.ReasonConnectionLimit])
}

// TestApplyTwice applies m twice to one server: each connection is still
// counted once.
func TestApplyTwice(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	s := testserver.Start(t, m.Handler(routes()), testserver.H1, func(ts *httptest.Server) {
		m.Apply(ts.Config)
		m.Apply(ts.Config)
	})
	status, _ := s.Get(t, "/items/1", nil)
	require.Equal(t, 200, status)
	assert.Equal(t, 1.0, value(t, reg, activeConns))
	s.Transport.CloseIdleConnections()
	eventually(t, reg, 0, activeConns)
	expect(t, reg, connSeries("tcp", "1.1", "", "idle", "", 1), connDuration)
}

// echo is an upgrade handler: it hijacks, answers 101 and echoes lines
// until the client closes, then closes the connection.
func echo(hijack func(http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := hijack(w)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(line)
			brw.Flush()
		}
	}
}

// upgrade opens a connection to s and upgrades it to echo.
func upgrade(t *testing.T, s *testserver.Server) *testserver.Conn {
	t.Helper()
	c := testserver.Dial(t, s.Addr())
	c.Send(t, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	res, err := http.ReadResponse(c.R, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	c.Send(t, "ping\n")
	line, err := c.R.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", line)
	return c
}

func TestUpgradedConnection(t *testing.T) {
	for name, hijack := range map[string]func(http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error){
		"Hijacker": func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) { return w.(http.Hijacker).Hijack() },
		"ResponseController": func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		},
	} {
		for _, apply := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/Apply=%v", name, apply), func(t *testing.T) {
				testserver.CheckNoLeaks(t)
				m, reg := newMetrics(t, testConfig)
				var s *testserver.Server
				if apply {
					s = serve(t, m, echo(hijack), testserver.H1)
				} else {
					s = testserver.Start(t, m.Handler(echo(hijack)), testserver.H1)
				}
				c := upgrade(t, s)
				assert.Equal(t, 1.0, value(t, reg, upgradedConns, "network_transport", "tcp"))
				assert.Equal(t, -1.0, value(t, reg, connDuration), "the upgraded connection is still open")
				lint(t, m)
				c.Close()
				eventually(t, reg, 0, upgradedConns)
				eventually(t, reg, 1, "http_server_request_duration_seconds", "http_response_status_code", "")
				if apply {
					eventually(t, reg, 0, activeConns)
					expect(t, reg, connSeries("tcp", "1.1", "", "hijacked", "", 1), connDuration)
				} else {
					assert.Equal(t, -1.0, value(t, reg, activeConns))
				}
			})
		}
	}
}

// TestHijackOutOfSight hijacks where m cannot follow the connection: with no
// Handler, where the record ends at the hijack, and around the Handler's
// ResponseWriter, where it ends when the handler returns.
func TestHijackOutOfSight(t *testing.T) {
	bypass := func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
		return w.(interface{ Unwrap() http.ResponseWriter }).Unwrap().(http.Hijacker).Hijack()
	}
	direct := func(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) { return w.(http.Hijacker).Hijack() }
	for _, tc := range []struct {
		name    string
		handler func(m *Metrics) http.Handler
		proto   string
		atOnce  bool
	}{
		{"no Handler", func(*Metrics) http.Handler { return echo(direct) }, "", true},
		{"around the Handler's writer", func(m *Metrics) http.Handler { return m.Handler(echo(bypass)) }, "1.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			s := testserver.Start(t, tc.handler(m), testserver.H1, func(ts *httptest.Server) { m.Apply(ts.Config) })
			c := upgrade(t, s)
			if tc.atOnce {
				assert.Equal(t, 0.0, value(t, reg, activeConns))
			} else {
				assert.Equal(t, 1.0, value(t, reg, activeConns))
				c.Close()
			}
			eventually(t, reg, 0, activeConns)
			expect(t, reg, connSeries("tcp", tc.proto, "", "hijacked", "", 1), connDuration)
			assert.Equal(t, -1.0, value(t, reg, upgradedConns))
			c.Close()
		})
	}
}

func TestUnixTransport(t *testing.T) {
	testserver.CheckNoLeaks(t)
	m, reg := newMetrics(t, testConfig)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: m.Handler(routes())}
	m.Apply(srv)
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	client := &http.Client{Transport: tr}
	res, err := client.Get("http://unix/items/7")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "item 7", string(body))
	assert.Equal(t, 1.0, value(t, reg, activeConns, "network_transport", "unix"))
	tr.CloseIdleConnections()
	eventually(t, reg, 0, activeConns, "network_transport", "unix")
	expect(t, reg, connSeries("unix", "1.1", "", "idle", "", 1), connDuration)
}

// TestShutdown drains a server: its idle connections close idle and the
// active one closes active when its response is done.
func TestShutdown(t *testing.T) {
	m, reg := newMetrics(t, testConfig)
	entered, release := make(chan struct{}), make(chan struct{})
	mux := routes()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "slow")
	})
	s := serve(t, m, mux, testserver.H1)
	idle := testserver.Dial(t, s.Addr())
	idle.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.Response(t)
	busy := testserver.Dial(t, s.Addr())
	busy.Send(t, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	done := make(chan error)
	go func() { done <- s.Config.Shutdown(context.Background()) }()
	eventually(t, reg, 1, connDuration, "state", "idle")
	close(release)
	res, body := busy.Response(t)
	assert.Equal(t, "slow", body)
	assert.True(t, res.Close, "Connection: close while shutting down")
	require.NoError(t, <-done)
	eventually(t, reg, 1, connDuration, "state", "active")
	assert.Equal(t, 0.0, value(t, reg, activeConns))
	assert.NotContains(t, names(t, reg), "windhover_active_tls_handshakes", "no TLS, no handshake series")
}

// tableLen counts the connections in m's table.
func tableLen(m *Metrics) int {
	n := 0
	for i := range m.conns.shards {
		s := &m.conns.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// TestConnStateThroughWire: the ConnState hook finds m's record through
// the h1wire Conn of limits' Listener when m's ConnContext hook filled the
// values limits' made (limits Applied first, with or without a lifetime),
// and through the table otherwise (m first; a user's hook between the two,
// whose context hides limits' values): the series are the same, and the
// table is empty once the connection closed.
func TestConnStateThroughWire(t *testing.T) {
	type userKey struct{}
	for _, tc := range []struct {
		name         string
		cfg          limits.Config
		limitsFirst  bool
		userBetween  bool // a user's ConnContext hook between limits' and m's
		inTableWhile int  // connections in m's table while one is open
	}{
		{"limits-first", limits.Config{}, true, false, 0},
		{"limits-first-lifetime", limits.Config{MaxConnectionAge: time.Hour}, true, false, 0},
		{"user-hook-between", limits.Config{}, true, true, 1},
		{"metrics-first", limits.Config{}, false, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			lim, err := limits.New(tc.cfg)
			require.NoError(t, err)
			s := testserver.Start(t, m.Handler(routes()), testserver.H1, func(ts *httptest.Server) {
				if tc.limitsFirst {
					require.NoError(t, lim.Apply(ts.Config))
				}
				if tc.userBetween {
					prev := ts.Config.ConnContext
					ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
						return context.WithValue(prev(ctx, c), userKey{}, 1)
					}
				}
				m.Apply(ts.Config)
				if !tc.limitsFirst {
					require.NoError(t, lim.Apply(ts.Config))
				}
				ts.Listener = lim.Listener(ts.Listener)
			})
			c := testserver.Dial(t, s.Addr())
			c.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
			res, _ := c.Response(t)
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, tc.inTableWhile, tableLen(m))
			assert.Equal(t, 1.0, value(t, reg, activeConns))
			c.Close()
			eventually(t, reg, 0, activeConns)
			expect(t, reg, connSeries("tcp", "1.1", "", "idle", "", 1), connDuration)
			assert.Zero(t, tableLen(m))
		})
	}
}

// TestConnHandedOn: a connection hijacked from a server m measures and
// served again, by another server m measures or by the same one through a
// second listener, whose connections' contexts come from the hijacking
// request's (BaseContext), or whose connection carries the first
// connection's h1wire Conn and its values: the connection served again has
// its own record, and both end.
func TestConnHandedOn(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limits      bool // the first server behind limits' Listener
		inheritBase bool // the second listener's BaseContext is the hijacking request's context
		sameServer  bool // the first server serves the handed-on connection
	}{
		{"other-server-wire-values-of-the-first", true, false, false},
		{"other-server-context-of-the-first", false, true, false},
		{"same-server-context-of-the-first", false, true, true},
		{"same-server-context-and-wire-values-of-the-first", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			ln := testserver.NewChanListener()
			base := make(chan context.Context, 1)
			mux := routes()
			mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
				c, brw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
				brw.Flush()
				base <- context.WithoutCancel(r.Context())
				ln.Conns <- handedConn{c} // as a server of upgrades wraps it
			})
			baseContext := func(l net.Listener) context.Context {
				if l == ln && tc.inheritBase {
					return <-base
				}
				return context.Background()
			}
			var first *http.Server
			s := testserver.Start(t, mux, testserver.H1, func(ts *httptest.Server) {
				first = ts.Config
				first.BaseContext = baseContext
				if tc.limits {
					lim, err := limits.New(limits.Config{})
					require.NoError(t, err)
					require.NoError(t, lim.Apply(first))
					ts.Listener = lim.Listener(ts.Listener)
				}
				m.Apply(first)
			})
			second := first
			if !tc.sameServer {
				second = &http.Server{Handler: mux, BaseContext: baseContext}
				m.Apply(second)
			}
			done := make(chan struct{})
			go func() { second.Serve(ln); close(done) }()
			t.Cleanup(func() {
				if !tc.sameServer {
					second.Close()
				}
				ln.Close()
				<-done
			})

			c := testserver.Dial(t, s.Addr())
			c.Send(t, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
			res, err := http.ReadResponse(c.R, nil)
			require.NoError(t, err)
			require.Equal(t, 101, res.StatusCode)
			c.Send(t, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
			res, body := c.Response(t)
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, "item 1", body)
			assert.Equal(t, 1.0, value(t, reg, activeConns), "the connection served again")
			c.Close()
			eventually(t, reg, 0, activeConns)
			expect(t, reg, connSeries("tcp", "", "", "hijacked", "", 1)+connSeries("tcp", "", "", "idle", "", 1), connDuration)
			assert.Zero(t, tableLen(m))
		})
	}
}

// handedConn is a hijacked connection handed to a listener, which leads
// to the connection it wraps, as *tls.Conn does.
type handedConn struct{ net.Conn }

func (c handedConn) NetConn() net.Conn { return c.Conn }

// TestConnStateWithoutLock makes a second request on a kept-alive
// connection while its record's lock is held: the Active and Idle reports
// reach the record without the lock, from the first request on a plaintext
// connection and, on a measured TLS one, once the first request settled the
// handshake, which it records while the connection is still open.
func TestConnStateWithoutLock(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2C, testserver.H1TLS, testserver.H2} {
		t.Run(string(p), func(t *testing.T) {
			m, reg := newMetrics(t, testConfig)
			recs := make(chan *conn, 2)
			var setup []testserver.Setup
			if p.IsTLS() {
				setup = append(setup, func(ts *httptest.Server) {
					ts.TLS = m.TLSConfig(&tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2", "http/1.1"}})
				})
			}
			s := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				recs <- m.connFrom(r.Context())
			}), p, setup...)
			status, _ := s.Get(t, "/", nil)
			require.Equal(t, 200, status)
			rec := <-recs
			require.NotNil(t, rec)
			if p.IsTLS() {
				assert.Equal(t, 1.0, value(t, reg, handshakeDuration, "error_type", ""), "the handshake is recorded at the first request")
				assert.Equal(t, 0.0, value(t, reg, activeHandshakes))
			}

			rec.mu.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "GET", s.URL+"/", nil)
			require.NoError(t, err)
			res, err := s.Client.Do(req)
			rec.mu.Unlock()
			require.NoError(t, err, "the ConnState hook waited for the record's lock")
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			assert.Same(t, rec, <-recs, "the request came on the kept-alive connection")

			s.Transport.CloseIdleConnections()
			eventually(t, reg, 0, activeConns)
			assert.Equal(t, 1.0, value(t, reg, connDuration, "state", "idle"))
		})
	}
}
