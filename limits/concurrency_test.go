package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// gate is a handler that announces each request's id on entered, then holds
// it until a value arrives on proceed (or its context ends).
type gate struct {
	entered chan string
	proceed chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan string, 64), proceed: make(chan struct{})}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.entered <- r.URL.Query().Get("id")
	select {
	case <-g.proceed:
	case <-r.Context().Done():
		return
	}
	_, _ = io.WriteString(w, "done "+r.URL.Query().Get("id"))
}

// next returns the id of the next request to enter the handler.
func (g *gate) next(t *testing.T) string {
	t.Helper()
	select {
	case id := <-g.entered:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("no request entered the handler")
		return ""
	}
}

// nothingEnters checks that no request enters the handler for a while.
func (g *gate) nothingEnters(t *testing.T) {
	t.Helper()
	select {
	case id := <-g.entered:
		t.Fatalf("request %s entered the handler", id)
	case <-time.After(100 * time.Millisecond):
	}
}

// outcome is a finished request: its id, status, Retry-After and body.
type outcome struct {
	id, retryAfter, body string
	status               int
}

// client sends requests in the background and collects their outcomes.
type client struct {
	t    *testing.T
	s    *testserver.Server
	ctx  context.Context // canceled when the test ends, so that no request outlives it
	wg   sync.WaitGroup
	done chan outcome
}

func newClient(t *testing.T, s *testserver.Server) *client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{t: t, s: s, ctx: ctx, done: make(chan outcome, 64)}
	t.Cleanup(func() {
		cancel()
		c.wg.Wait()
	})
	return c
}

func (c *client) send(id string) { c.sendWith(c.ctx, id) }

func (c *client) sendWith(ctx context.Context, id string) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		req, _ := http.NewRequestWithContext(ctx, "GET", c.s.URL+"/?id="+id, nil)
		res, err := c.s.Client.Do(req)
		if err != nil {
			c.done <- outcome{id: id, body: err.Error()}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		c.done <- outcome{id: id, status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), body: string(body)}
	}()
}

// result waits for the next request to finish.
func (c *client) result() outcome {
	c.t.Helper()
	select {
	case o := <-c.done:
		return o
	case <-time.After(5 * time.Second):
		c.t.Fatal("no request finished")
		return outcome{}
	}
}

// busy serves lim over p in front of a gate, and sends request "a", which it
// waits to see held in the handler.
func busy(t *testing.T, lim *ConcurrencyLimiter, p proto) (*gate, *client) {
	t.Helper()
	g := newGate()
	c := newClient(t, startServer(t, lim.Handler(g), p))
	c.send("a")
	assert.Equal(t, "a", g.next(t))
	return g, c
}

// queue sends a request and waits until it is queued.
func (c *client) queue(lim *ConcurrencyLimiter, id string) {
	c.t.Helper()
	want := lim.Stats().QueuedRequests + 1
	c.send(id)
	eventually(c.t, func() bool { return lim.Stats().QueuedRequests == want }, "%s not queued: %+v", id, lim.Stats())
}

func TestConcurrencyQueueOrder(t *testing.T) {
	for _, p := range allProtos {
		for _, tt := range []struct {
			order     QueueOrder
			pushedOut string   // the request a full queue turns away
			served    []string // the order queued requests enter in
		}{
			{QueueOldestFirst, "q4", []string{"q1", "q2", "q3"}},
			{QueueNewestFirst, "q1", []string{"q4", "q3", "q2"}},
		} {
			t.Run(string(p)+"/"+tt.order.String(), func(t *testing.T) {
				checkNoLeaks(t)
				var rejected []error
				var mu sync.Mutex
				lim, err := NewConcurrencyLimiter(ConcurrencyConfig{
					MaxConcurrentRequests: 2, RequestQueueLimit: 3, QueueOrder: tt.order, RequestQueueTimeout: time.Minute,
					OnReject: func(r *http.Request, err error) {
						mu.Lock()
						rejected = append(rejected, err)
						mu.Unlock()
					},
				})
				require.NoError(t, err)
				g := newGate()
				s := startServer(t, lim.Handler(g), p)
				c := newClient(t, s)

				c.send("a1")
				c.send("a2")
				assert.ElementsMatch(t, []string{"a1", "a2"}, []string{g.next(t), g.next(t)})
				assert.EqualValues(t, 2, lim.Stats().ActiveRequests)
				for _, id := range []string{"q1", "q2", "q3"} {
					c.queue(lim, id)
				}
				c.send("q4")
				out := c.result()
				assert.Equal(t, outcome{id: tt.pushedOut, status: 503, retryAfter: "1", body: "Service Unavailable\n"}, out)
				if tt.order == QueueNewestFirst {
					eventually(t, func() bool { return lim.Stats().QueuedRequests == 3 }, "q4 not queued")
				}
				g.nothingEnters(t)

				for _, want := range tt.served {
					g.proceed <- struct{}{}
					assert.Equal(t, want, g.next(t))
					assert.Equal(t, 200, c.result().status)
				}
				g.proceed <- struct{}{}
				g.proceed <- struct{}{}
				assert.Equal(t, 200, c.result().status)
				assert.Equal(t, 200, c.result().status)

				st := lim.Stats()
				assert.Zero(t, st.ActiveRequests)
				assert.Zero(t, st.QueuedRequests)
				assert.EqualValues(t, 1, st.Rejected[ReasonRequestQueueFull])
				assert.EqualValues(t, 1, st.RejectedTotal())
				require.Len(t, rejected, 1)
				var e *Error
				require.ErrorAs(t, rejected[0], &e)
				assert.ErrorIs(t, e, ErrRequestQueueFull)
				assert.Equal(t, &Error{Reason: ReasonRequestQueueFull, Limit: 2, Size: -1, RetryAfter: time.Second}, e)
				assert.Equal(t, "windhover/limits: request queue full (limit 2), retry after 1s", e.Error())
			})
		}
	}
}

func TestConcurrencyLimitWithoutQueue(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim := MaxConcurrentRequests(1)
			g, c := busy(t, lim, p)
			s := c.s

			res, err := s.Client.Get(s.URL + "/?id=b")
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			assert.Equal(t, 503, res.StatusCode)
			assert.Equal(t, "1", res.Header.Get("Retry-After"))
			assert.Equal(t, "Service Unavailable\n", string(body))
			assert.Empty(t, res.Header.Get("Connection"), "the connection stays open")
			assert.False(t, res.Close)
			assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonConcurrencyLimit])

			g.proceed <- struct{}{}
			assert.Equal(t, outcome{id: "a", status: 200, body: "done a"}, c.result())
			eventually(t, func() bool { return lim.Stats().ActiveRequests == 0 }, "slot not released")
			go func() { g.proceed <- struct{}{} }()
			code, body2 := s.Get(t, "/?id=c", nil)
			assert.Equal(t, 200, code)
			assert.Equal(t, "done c", body2)
			g.next(t)
		})
	}
}

func TestConcurrencyQueueTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			lim, err := NewConcurrencyLimiter(ConcurrencyConfig{
				MaxConcurrentRequests: 1, RequestQueueLimit: 1, RequestQueueTimeout: timeout, RetryAfter: 2500 * time.Millisecond,
			})
			require.NoError(t, err)
			g, c := busy(t, lim, p)

			start := time.Now()
			c.send("b")
			out := c.result()
			elapsed := time.Since(start)
			assert.Equal(t, outcome{id: "b", status: 503, retryAfter: "3", body: "Service Unavailable\n"}, out)
			assert.GreaterOrEqual(t, elapsed, timeout)
			assert.Less(t, elapsed, timeout+2*time.Second)
			st := lim.Stats()
			assert.EqualValues(t, 1, st.Rejected[ReasonRequestQueueTimeout])
			assert.Zero(t, st.QueuedRequests)
			g.proceed <- struct{}{}
			assert.Equal(t, 200, c.result().status)
		})
	}
}

func TestConcurrencyClientLeavesQueue(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			checkNoLeaks(t)
			var canceled atomic.Pointer[Error]
			lim, err := NewConcurrencyLimiter(ConcurrencyConfig{
				MaxConcurrentRequests: 1, RequestQueueLimit: 2, RequestQueueTimeout: time.Minute,
				OnReject: func(r *http.Request, err error) {
					var e *Error
					if errors.As(err, &e) {
						canceled.Store(e)
					}
				},
			})
			require.NoError(t, err)
			g, c := busy(t, lim, p)

			ctx, cancel := context.WithCancel(c.ctx)
			want := lim.Stats().QueuedRequests + 1
			c.sendWith(ctx, "gone")
			eventually(t, func() bool { return lim.Stats().QueuedRequests == want }, "not queued")
			c.queue(lim, "stays")
			cancel()
			assert.Equal(t, "gone", c.result().id)
			eventually(t, func() bool { return lim.Stats().QueuedRequests == 1 }, "the request did not leave the queue: %+v", lim.Stats())
			// The request leaves the queue before it is counted and
			// reported: wait for the report, the last of the three.
			eventually(t, func() bool { return canceled.Load() != nil }, "OnReject was not called")
			st := lim.Stats()
			assert.EqualValues(t, 1, st.Rejected[ReasonRequestQueueCanceled])
			assert.Zero(t, st.Rejected[ReasonRequestQueueTimeout])
			e := canceled.Load()
			assert.ErrorIs(t, e, ErrRequestQueueCanceled)
			assert.ErrorIs(t, e, context.Canceled, "the context's cause is wrapped")

			// The slot goes to the request still queued.
			g.proceed <- struct{}{}
			assert.Equal(t, "stays", g.next(t))
			g.proceed <- struct{}{}
			assert.ElementsMatch(t, []int{200, 200}, []int{c.result().status, c.result().status})
		})
	}
}

func TestConcurrencyRawClientClosesWhileQueued(t *testing.T) {
	checkNoLeaks(t)
	lim, err := NewConcurrencyLimiter(ConcurrencyConfig{MaxConcurrentRequests: 1, RequestQueueLimit: 1, RequestQueueTimeout: time.Minute})
	require.NoError(t, err)
	g, c := busy(t, lim, h1)
	s := c.s

	raw := dial(t, s.Addr())
	raw.Send(t, "GET /?id=raw HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, func() bool { return lim.Stats().QueuedRequests == 1 }, "not queued")
	require.NoError(t, raw.Close())
	eventually(t, func() bool { return lim.Stats().QueuedRequests == 0 }, "still queued after the client closed")
	assert.EqualValues(t, 1, lim.Stats().Rejected[ReasonRequestQueueCanceled])
	g.proceed <- struct{}{}
	assert.Equal(t, 200, c.result().status)
	g.nothingEnters(t)
}

// TestConcurrencyUnderLoad runs many requests at once against a small limit
// and queue, and checks that the limit held and every request was answered.
func TestConcurrencyUnderLoad(t *testing.T) {
	for _, p := range allProtos {
		for _, order := range []QueueOrder{QueueOldestFirst, QueueNewestFirst} {
			t.Run(string(p)+"/"+order.String(), func(t *testing.T) {
				const max = 3
				lim, err := NewConcurrencyLimiter(ConcurrencyConfig{
					MaxConcurrentRequests: max, RequestQueueLimit: 5, QueueOrder: order, RequestQueueTimeout: 50 * time.Millisecond,
				})
				require.NoError(t, err)
				var in, peak atomic.Int64
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := in.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					in.Add(-1)
					_, _ = io.WriteString(w, "ok")
				})
				s := startServer(t, lim.Handler(h), p)
				var ok, busy atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						for range 10 {
							res, err := s.Client.Get(s.URL + "/")
							if err != nil {
								t.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, res.Body)
							res.Body.Close()
							switch code := res.StatusCode; code {
							case 200:
								ok.Add(1)
							case 503:
								busy.Add(1)
							default:
								t.Errorf("status %d", code)
							}
						}
					})
				}
				wg.Wait()
				assert.LessOrEqual(t, peak.Load(), int64(max))
				assert.EqualValues(t, 160, ok.Load()+busy.Load())
				assert.Positive(t, ok.Load())
				st := lim.Stats()
				assert.Zero(t, st.ActiveRequests)
				assert.Zero(t, st.QueuedRequests)
				assert.Equal(t, uint64(busy.Load()), st.RejectedTotal())
			})
		}
	}
}

func TestConcurrencyUpgradeReleasesSlotOnHijack(t *testing.T) {
	checkNoLeaks(t)
	lim := MaxConcurrentRequests(1)
	s := startServer(t, lim.Handler(echoUpgrade(nil)), h1)
	a := dial(t, s.Addr())
	upgradeClient(t, a)
	assert.Zero(t, lim.Stats().ActiveRequests, "the hijacked connection holds no request slot")

	code, body := s.Get(t, "/", nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, "plain", body)
	a.Close()
	s.Client.CloseIdleConnections()
	eventually(t, func() bool { return lim.Stats().ActiveRequests == 0 }, "slot count wrong: %+v", lim.Stats())
}

func TestConcurrencyUpgradeWithoutHijackHoldsSlot(t *testing.T) {
	lim := MaxConcurrentRequests(1)
	g := newGate()
	s := startServer(t, lim.Handler(g), h1)
	c := dial(t, s.Addr())
	c.Send(t, "GET /?id=up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	assert.Equal(t, "up", g.next(t))
	code, _ := s.Get(t, "/?id=b", nil)
	assert.Equal(t, 503, code, "an upgrade request that has not hijacked still holds its slot")
	g.proceed <- struct{}{}
	res, body := c.Response(t)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "done up", body)
	eventually(t, func() bool { return lim.Stats().ActiveRequests == 0 }, "slot not released")
}

func TestConcurrencyPanicReleasesSlot(t *testing.T) {
	lim := MaxConcurrentRequests(1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	})
	s := startServer(t, lim.Handler(h), h1)
	_, err := s.Client.Get(s.URL + "/panic")
	assert.Error(t, err)
	eventually(t, func() bool { return lim.Stats().ActiveRequests == 0 }, "slot not released after a panic")
	code, _ := s.Get(t, "/", nil)
	assert.Equal(t, 200, code)
}

func TestConcurrencyUnlimitedCounts(t *testing.T) {
	lim, err := NewConcurrencyLimiter(ConcurrencyConfig{})
	require.NoError(t, err)
	g := newGate()
	s := startServer(t, lim.Handler(g), h2c)
	c := newClient(t, s)
	for _, id := range []string{"a", "b", "c"} {
		c.send(id)
		g.next(t)
	}
	assert.EqualValues(t, 3, lim.Stats().ActiveRequests)
	for range 3 {
		g.proceed <- struct{}{}
		assert.Equal(t, 200, c.result().status)
	}
	eventually(t, func() bool { return lim.Stats().ActiveRequests == 0 }, "not released")
}

func TestConcurrencyRetryAfterOff(t *testing.T) {
	lim, err := NewConcurrencyLimiter(ConcurrencyConfig{MaxConcurrentRequests: 1, RetryAfter: -1})
	require.NoError(t, err)
	g, c := busy(t, lim, h1)
	s := c.s
	res, err := s.Client.Get(s.URL + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 503, res.StatusCode)
	assert.NotContains(t, res.Header, "Retry-After")
	g.proceed <- struct{}{}
	c.result()
}

func TestConcurrencyConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  ConcurrencyConfig
		want string
	}{
		{ConcurrencyConfig{MaxConcurrentRequests: -1}, "ConcurrencyConfig.MaxConcurrentRequests = -1"},
		{ConcurrencyConfig{MaxConcurrentRequests: 1, RequestQueueLimit: -1}, "ConcurrencyConfig.RequestQueueLimit = -1"},
		{ConcurrencyConfig{RequestQueueLimit: 5}, "ConcurrencyConfig.RequestQueueLimit = 5 needs a MaxConcurrentRequests"},
		{ConcurrencyConfig{MaxConcurrentRequests: 1, QueueOrder: 2}, "ConcurrencyConfig.QueueOrder = QueueOrder(2)"},
		{ConcurrencyConfig{MaxConcurrentRequests: 1, RequestQueueTimeout: -time.Second}, "ConcurrencyConfig.RequestQueueTimeout = -1s"},
	} {
		_, err := NewConcurrencyLimiter(tt.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "windhover/limits: "+tt.want)
	}
	assert.PanicsWithValue(t, "limits: windhover/limits: ConcurrencyConfig.MaxConcurrentRequests = -2 must not be negative (0 means no limit)",
		func() { MaxConcurrentRequests(-2) })
}

func TestConcurrencyHandlerAllocations(t *testing.T) {
	lim, err := NewConcurrencyLimiter(ConcurrencyConfig{MaxConcurrentRequests: 10, RequestQueueLimit: 10})
	require.NoError(t, err)
	w := testserver.NewNopWriter()
	r, _ := requestFor(t, 0)
	h := lim.Handler(drain)
	bare := testing.AllocsPerRun(200, func() { drain.ServeHTTP(w, r) })
	limited := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, bare, limited, "a request that finds a slot allocates nothing")
}

func BenchmarkConcurrencyLimiter(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", drain},
		{"limited", MaxConcurrentRequests(1 << 20).Handler(drain)},
		{"unlimited", MaxConcurrentRequests(0).Handler(drain)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, _ := requestFor(b, 0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := testserver.NewNopWriter()
				for pb.Next() {
					tc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}

// TestConcurrencyHandOffRace has many goroutines take and give back slots
// directly, racing the queue's lock-free fast path against its slow path:
// the limit must hold, and every request must get a slot, none left waiting
// in the queue while a slot is free.
func TestConcurrencyHandOffRace(t *testing.T) {
	const goroutines, rounds = 8, 2000
	for _, tt := range []struct {
		max   int
		order QueueOrder
	}{{1, QueueOldestFirst}, {1, QueueNewestFirst}, {3, QueueOldestFirst}, {3, QueueNewestFirst}} {
		max, order := tt.max, tt.order
		t.Run(fmt.Sprintf("max=%d/%s", max, order), func(t *testing.T) {
			lim, err := NewConcurrencyLimiter(ConcurrencyConfig{
				MaxConcurrentRequests: max, RequestQueueLimit: goroutines, QueueOrder: order, RequestQueueTimeout: 10 * time.Second,
			})
			require.NoError(t, err)
			r, _ := requestFor(t, 0)
			var in, peak atomic.Int64
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for range rounds {
						if err := lim.acquire(r); err != nil {
							t.Error(err)
							return
						}
						n := in.Add(1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						runtime.Gosched() // let others find every slot taken
						in.Add(-1)
						lim.release()
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, peak.Load(), int64(max))
			assert.Equal(t, ConcurrencyStats{}, lim.Stats())
			assert.Zero(t, lim.slots.Load(), "no slot held, no waiting bit left")
		})
	}
}
