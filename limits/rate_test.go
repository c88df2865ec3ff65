package limits

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"golang.org/x/time/rate"
)

// rejections records what OnReject was given.
type rejections struct {
	mu   sync.Mutex
	errs []*Error
}

func (rs *rejections) record(r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) {
		rs.mu.Lock()
		rs.errs = append(rs.errs, e)
		rs.mu.Unlock()
	}
}

func (rs *rejections) all() []*Error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*Error(nil), rs.errs...)
}

func TestRateLimit429(t *testing.T) {
	for _, p := range allProtos {
		t.Run(string(p), func(t *testing.T) {
			var rs rejections
			lim, err := NewRateLimiter(RateConfig{Rate: 0.1, Burst: 2, OnReject: rs.record})
			require.NoError(t, err)
			s := startServer(t, lim.Handler(hello), p)
			for range 2 {
				res, err := s.Client.Get(s.URL + "/")
				require.NoError(t, err)
				res.Body.Close()
				assert.Equal(t, 200, res.StatusCode)
				assert.NotContains(t, res.Header, "Ratelimit", "allowed responses carry no RateLimit fields by default")
			}
			res, err := s.Client.Get(s.URL + "/")
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			assert.Equal(t, 429, res.StatusCode)
			assert.Equal(t, "Too Many Requests\n", string(body))
			assert.Equal(t, "10", res.Header.Get("Retry-After"), "a token comes back in 10 s")
			assert.Equal(t, `"default";q=2;w=20`, res.Header.Get("RateLimit-Policy"))
			assert.Equal(t, `"default";r=0;t=10`, res.Header.Get("RateLimit"))
			assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
			assert.False(t, res.Close, "the connection stays open")

			st := lim.Stats()
			assert.EqualValues(t, 1, st.Rejected[ReasonRateLimited])
			assert.EqualValues(t, 1, st.RejectedTotal())
			assert.Equal(t, 1, st.Keys)
			errs := rs.all()
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrRateLimited)
			assert.Equal(t, &Error{Reason: ReasonRateLimited, Limit: 2, Size: -1, RetryAfter: 10 * time.Second, Key: "127.0.0.1"}, errs[0])
			assert.Equal(t, "windhover/limits: request rate limit exceeded (burst 2), retry after 10s", errs[0].Error())
		})
	}
}

func TestRateLimitKeepsConnection(t *testing.T) {
	lim := MaxRequestRate(0.01, 1)
	s := startServer(t, lim.Handler(hello), h1)
	c := dial(t, s.Addr())
	for i, want := range []int{200, 429, 429} {
		c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, _ := c.Response(t)
		assert.Equal(t, want, res.StatusCode, "request %d on one connection", i)
		assert.False(t, res.Close)
	}
}

func TestRateLimitHeadersOnAllowed(t *testing.T) {
	for _, p := range []proto{h1, h2c} {
		t.Run(string(p), func(t *testing.T) {
			lim, err := NewRateLimiter(RateConfig{Rate: 0.1, Burst: 2, HeadersOnAllowed: true, PolicyName: `per "client"`})
			require.NoError(t, err)
			s := startServer(t, lim.Handler(hello), p)
			for _, want := range []struct{ code, retryAfter, rateLimit string }{
				{"200", "", `"per \"client\"";r=1;t=10`},
				{"200", "", `"per \"client\"";r=0;t=20`},
				{"429", "10", `"per \"client\"";r=0;t=10`},
			} {
				res, err := s.Client.Get(s.URL + "/")
				require.NoError(t, err)
				res.Body.Close()
				assert.Equal(t, want.code, strconv.Itoa(res.StatusCode))
				assert.Equal(t, want.retryAfter, res.Header.Get("Retry-After"))
				assert.Equal(t, want.rateLimit, res.Header.Get("RateLimit"))
				assert.Equal(t, `"per \"client\"";q=2;w=20`, res.Header.Get("RateLimit-Policy"))
			}
		})
	}
}

// serveAt answers r through h and returns the status and the Retry-After
// and RateLimit fields.
func serveAt(h http.Handler, r *http.Request) (int, string, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Header().Get("Retry-After"), w.Header().Get("RateLimit")
}

// TestRetryAfterIsEnough checks with a fake clock that a client waiting
// exactly Retry-After is served, at every rate, and that the field never
// says less than the time a token takes.
func TestRetryAfterIsEnough(t *testing.T) {
	for _, r := range []rate.Limit{0.1, 0.3, 0.5, 1, 2.5, 3, 7, 100, rate.Every(90 * time.Second)} {
		t.Run(strconv.FormatFloat(float64(r), 'g', -1, 64), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim, err := NewRateLimiter(RateConfig{Rate: r, Burst: 1})
				require.NoError(t, err)
				h := lim.Handler(hello)
				req := request("203.0.113.7:1")
				code, _, _ := serveAt(h, req)
				require.Equal(t, 200, code)
				for range 3 {
					code, retry, rl := serveAt(h, req)
					require.Equal(t, 429, code)
					secs, err := strconv.Atoi(retry)
					require.NoError(t, err)
					assert.GreaterOrEqual(t, time.Duration(secs)*time.Second, time.Duration(float64(time.Second)/float64(r)),
						"Retry-After %s s is no shorter than a token takes", retry)
					assert.Equal(t, `"default";r=0;t=`+retry, rl)
					time.Sleep(time.Duration(secs) * time.Second)
					code, _, _ = serveAt(h, req)
					assert.Equal(t, 200, code, "served after waiting Retry-After")
				}
			})
		})
	}
}

func TestRetryAfterCountsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := NewRateLimiter(RateConfig{Rate: 0.5, Burst: 2})
		require.NoError(t, err)
		h := lim.Handler(hello)
		req := request("203.0.113.7:1")
		for range 2 {
			code, _, _ := serveAt(h, req)
			require.Equal(t, 200, code)
		}
		for _, step := range []struct {
			wait        time.Duration
			code        int
			retryAfter  string
			remainingAt string
		}{
			{0, 429, "2", `"default";r=0;t=2`},
			{500 * time.Millisecond, 429, "2", `"default";r=0;t=2`},
			{time.Second, 429, "1", `"default";r=0;t=1`},
			{499 * time.Millisecond, 429, "1", `"default";r=0;t=1`},
			{time.Millisecond, 200, "", ""},
			{time.Second, 429, "1", `"default";r=0;t=1`},
		} {
			time.Sleep(step.wait)
			code, retry, rl := serveAt(h, req)
			assert.Equal(t, step.code, code)
			assert.Equal(t, step.retryAfter, retry)
			assert.Equal(t, step.remainingAt, rl)
		}
	})
}

func TestMemoryStoreDecisions(t *testing.T) {
	s := NewMemoryStore(10)
	q := Quota{Rate: 2, Burst: 3}
	now := time.Unix(1000, 0)
	ctx := context.Background()
	want := []Decision{
		{Allowed: true, Remaining: 2, Reset: 500 * time.Millisecond},
		{Allowed: true, Remaining: 1, Reset: time.Second},
		{Allowed: true, Remaining: 0, Reset: 1500 * time.Millisecond},
		{Allowed: false, Remaining: 0, Reset: 1500 * time.Millisecond, RetryAfter: 500 * time.Millisecond},
	}
	for i, w := range want {
		d, err := s.Allow(ctx, "k", q, now)
		require.NoError(t, err)
		assert.Equal(t, w, d, "request %d", i)
	}
	d, _ := s.Allow(ctx, "k", q, now.Add(499*time.Millisecond))
	assert.False(t, d.Allowed)
	assert.Equal(t, time.Millisecond, d.RetryAfter.Round(time.Microsecond))
	d, _ = s.Allow(ctx, "k", q, now.Add(500*time.Millisecond))
	assert.True(t, d.Allowed, "exactly RetryAfter later")
	d, _ = s.Allow(ctx, "other", q, now)
	assert.Equal(t, Decision{Allowed: true, Remaining: 2, Reset: 500 * time.Millisecond}, d, "keys are independent")

	// A new quota for a key applies from then on.
	slow, fast := Quota{Rate: 1, Burst: 1}, Quota{Rate: 1000, Burst: 1}
	d, _ = s.Allow(ctx, "q", slow, now)
	assert.True(t, d.Allowed)
	d, _ = s.Allow(ctx, "q", fast, now.Add(2*time.Millisecond))
	assert.False(t, d.Allowed)
	assert.Equal(t, 998*time.Microsecond, d.RetryAfter.Round(time.Microsecond), "the bucket refilled at the old rate until now")
	d, _ = s.Allow(ctx, "q", fast, now.Add(4*time.Millisecond))
	assert.True(t, d.Allowed, "and refills at the new one from now")

	for _, bad := range []Quota{{}, {Rate: 1}, {Burst: 1}, {Rate: -1, Burst: 1}, {Rate: rate.Inf, Burst: 1}, {Rate: 1e-9, Burst: 10}} {
		_, err := s.Allow(ctx, "k", bad, now)
		assert.ErrorIs(t, err, ErrInvalidQuota, "%+v", bad)
	}
}

func TestRateLimitCustomKey(t *testing.T) {
	var lim *RateLimiter
	lim, err := NewRateLimiter(RateConfig{Rate: 0.001, Burst: 1, Key: func(r *http.Request) string {
		if k := r.Header.Get("X-Api-Key"); k != "" {
			return "api " + k
		}
		return "addr " + lim.ClientKey(r)
	}})
	require.NoError(t, err)
	h := lim.Handler(hello)
	for _, tt := range []struct {
		r    *http.Request
		code int
	}{
		{request("203.0.113.7:1", "X-Api-Key", "alpha"), 200},
		{request("203.0.113.8:1", "X-Api-Key", "alpha"), 429},
		{request("203.0.113.7:1", "X-Api-Key", "beta"), 200},
		{request("203.0.113.7:1"), 200},
		{request("203.0.113.7:2"), 429},
		{request("203.0.113.9:1"), 200},
	} {
		code, _, _ := serveAt(h, tt.r)
		assert.Equal(t, tt.code, code, "%s %v", tt.r.RemoteAddr, tt.r.Header)
	}
	err = lim.Check(request("203.0.113.8:1", "X-Api-Key", "alpha"))
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "api alpha", e.Key)
	assert.NotContains(t, e.Error(), "alpha", "the key stays out of the message")
}

func TestRateLimitEmptyKeyIsAKey(t *testing.T) {
	lim, err := NewRateLimiter(RateConfig{Rate: 0.001, Burst: 1, Key: func(r *http.Request) string { return r.Header.Get("X-Api-Key") }})
	require.NoError(t, err)
	assert.NoError(t, lim.Check(request("203.0.113.7:1")))
	assert.ErrorIs(t, lim.Check(request("203.0.113.8:1")), ErrRateLimited, "requests without a key share one bucket")
}

// fakeStore is a Store that records its calls and answers with decide.
type fakeStore struct {
	mu     sync.Mutex
	keys   []string
	quotas []Quota
	decide func(key string) (Decision, error)
}

func (f *fakeStore) Allow(ctx context.Context, key string, q Quota, now time.Time) (Decision, error) {
	f.mu.Lock()
	f.keys = append(f.keys, key)
	f.quotas = append(f.quotas, q)
	f.mu.Unlock()
	return f.decide(key)
}

func TestRateLimitCustomStore(t *testing.T) {
	down := errors.New("store down")
	f := &fakeStore{decide: func(key string) (Decision, error) {
		switch key {
		case "203.0.113.7":
			return Decision{Allowed: true, Remaining: 4, Reset: 1500 * time.Millisecond}, nil
		case "2001:db8:1:2::/64":
			return Decision{RetryAfter: 2100 * time.Millisecond, Reset: time.Hour}, nil
		}
		return Decision{}, down
	}}
	var rs rejections
	lim, err := NewRateLimiter(RateConfig{Rate: 5, Burst: 10, Store: f, HeadersOnAllowed: true, OnReject: rs.record})
	require.NoError(t, err)
	h := lim.Handler(hello)

	code, retry, rl := serveAt(h, request("203.0.113.7:1"))
	assert.Equal(t, 200, code)
	assert.Empty(t, retry)
	assert.Equal(t, `"default";r=4;t=2`, rl)

	code, retry, rl = serveAt(h, request("[2001:db8:1:2::99]:1"))
	assert.Equal(t, 429, code)
	assert.Equal(t, "3", retry)
	assert.Equal(t, `"default";r=0;t=3`, rl)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("198.51.100.1:1"))
	assert.Equal(t, 503, w.Code)
	assert.Empty(t, w.Header().Get("RateLimit"))
	assert.Empty(t, w.Header().Get("Retry-After"))

	assert.Equal(t, []string{"203.0.113.7", "2001:db8:1:2::/64", "198.51.100.1"}, f.keys)
	assert.Equal(t, []Quota{{5, 10}, {5, 10}, {5, 10}}, f.quotas)
	errs := rs.all()
	require.Len(t, errs, 2)
	assert.ErrorIs(t, errs[1], ErrRateStoreFailed)
	assert.ErrorIs(t, errs[1], down)
	assert.Equal(t, "198.51.100.1", errs[1].Key)
	assert.Equal(t, "windhover/limits: rate limit store failed (limit 10): store down", errs[1].Error())
	st := lim.Stats()
	assert.Equal(t, -1, st.Keys)
	assert.EqualValues(t, 1, st.Rejected[ReasonRateLimited])
	assert.EqualValues(t, 1, st.Rejected[ReasonRateStoreFailed])
	assert.Equal(t, 503, ReasonRateStoreFailed.Status())
	assert.Equal(t, 429, ReasonRateLimited.Status())
}

func TestRateLimitOverUnixSocket(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		t.Run("trusted="+strconv.FormatBool(trusted), func(t *testing.T) {
			checkNoLeaks(t)
			cfg := RateConfig{Rate: 0.001, Burst: 1}
			if trusted {
				cfg.TrustedProxies = []string{"unix"}
			}
			lim, err := NewRateLimiter(cfg)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "s")
			ln, err := net.Listen("unix", path)
			require.NoError(t, err)
			srv := &http.Server{Handler: lim.Handler(hello)}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = srv.Serve(ln)
			}()
			tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			}}
			t.Cleanup(func() {
				tr.CloseIdleConnections()
				_ = srv.Close()
				<-done
			})
			client := &http.Client{Transport: tr}
			var codes []int
			for _, from := range []string{"198.51.100.1", "198.51.100.2"} {
				req, _ := http.NewRequest("GET", "http://unix/", nil)
				req.Header.Set("X-Forwarded-For", from)
				res, err := client.Do(req)
				require.NoError(t, err)
				res.Body.Close()
				codes = append(codes, res.StatusCode)
			}
			if trusted {
				assert.Equal(t, []int{200, 200}, codes, "the trusted proxy on the socket is believed")
			} else {
				assert.Equal(t, []int{200, 429}, codes, "every Unix-socket peer shares one key")
			}
		})
	}
}

func TestRateConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  RateConfig
		want string
	}{
		{RateConfig{}, "RateConfig.Rate = 0 must be positive and finite"},
		{RateConfig{Rate: -1}, "RateConfig.Rate = -1"},
		{RateConfig{Rate: rate.Inf}, "RateConfig.Rate = 1.7976931348623157e+308"},
		{RateConfig{Rate: 1, Burst: -1}, "RateConfig.Burst = -1"},
		{RateConfig{Rate: 1e-10, Burst: 1}, "RateConfig.Rate = 1e-10 is too slow"},
		{RateConfig{Rate: 1, ForwardedHeader: 5}, "RateConfig.ForwardedHeader = ForwardedHeader(5)"},
		{RateConfig{Rate: 1, IPv4PrefixLen: 33}, "RateConfig.IPv4PrefixLen = 33"},
		{RateConfig{Rate: 1, IPv6PrefixLen: -1}, "RateConfig.IPv6PrefixLen = -1"},
		{RateConfig{Rate: 1, MaxKeys: -1}, "RateConfig.MaxKeys = -1"},
		{RateConfig{Rate: 1, MaxKeys: 5, Store: NewMemoryStore(5)}, "RateConfig.MaxKeys = 5 applies only"},
		{RateConfig{Rate: 1, TrustedProxies: []string{"10.0.0.1/8"}}, `RateConfig.TrustedProxies = [10.0.0.1/8] is invalid: "10.0.0.1/8" has host bits set`},
		{RateConfig{Rate: 1, PolicyName: "é"}, `RateConfig.PolicyName = "é" must be printable ASCII`},
	} {
		_, err := NewRateLimiter(tt.cfg)
		if assert.Error(t, err, "%+v", tt.cfg) {
			assert.Contains(t, err.Error(), "windhover/limits: "+tt.want)
		}
	}
	assert.Panics(t, func() { MaxRequestRate(0, 1) })
	assert.Panics(t, func() { NewMemoryStore(-1) })

	// Burst defaults to a second's worth, at least one.
	for r, burst := range map[rate.Limit]int{0.2: 1, 1: 1, 2.5: 3, 100: 100} {
		lim, err := NewRateLimiter(RateConfig{Rate: r})
		require.NoError(t, err)
		assert.Equal(t, burst, lim.q.Burst, "rate %v", r)
	}
}

func TestReasonLabels(t *testing.T) {
	var labels []string
	for r := ReasonConcurrencyLimit; r < numReasons; r++ {
		labels = append(labels, r.String())
		assert.ErrorIs(t, &Error{Reason: r}, r.sentinel())
	}
	assert.Equal(t, "concurrency_limit request_queue_full request_queue_timeout request_queue_canceled rate_limited rate_store_failed "+
		"obs_fold invalid_host host_mismatch invalid_target http_version_not_supported invalid_chunked_body length_required",
		strings.Join(labels, " "), "labels are stable")
	for r := range numReasons {
		assert.NotEmpty(t, reasonNames[r], "reason %d has a name", r)
		assert.NotNil(t, sentinels[r], "reason %d has a sentinel", r)
	}
	policies := map[string][]string{}
	for r := range numReasons {
		policies[r.Policy()] = append(policies[r.Policy()], r.String())
	}
	assert.Equal(t, map[string][]string{
		"limits": {"connection_limit", "connection_queue_full", "connection_queue_timeout", "client_connection_limit", "upgrade_limit",
			"upgrades_disabled", "request_line_too_long", "too_many_headers", "headers_too_large", "body_too_large",
			"obs_fold", "invalid_host", "host_mismatch", "invalid_target", "http_version_not_supported", "invalid_chunked_body", "length_required"},
		"concurrency": {"concurrency_limit", "request_queue_full", "request_queue_timeout", "request_queue_canceled"},
		"rate":        {"rate_limited", "rate_store_failed"},
	}, policies, "each reason belongs to the limiter that refuses for it")
}

func TestRateHandlerAllocations(t *testing.T) {
	w := testserver.NewNopWriter()
	for _, tt := range []struct {
		name string
		cfg  RateConfig
		r    *http.Request
	}{
		{"IPv4", RateConfig{}, request("203.0.113.7:1")},
		{"IPv6", RateConfig{}, request("[2001:db8:1:2::3]:1")},
		{"forwarded", RateConfig{TrustedProxies: []string{"10.0.0.0/8"}}, request("10.0.0.1:1", "X-Forwarded-For", "198.51.100.1")},
		{"custom key", RateConfig{Key: func(*http.Request) string { return "k" }}, request("203.0.113.7:1")},
	} {
		tt.cfg.Rate, tt.cfg.Burst = benchRate, benchBurst
		lim, err := NewRateLimiter(tt.cfg)
		require.NoError(t, err)
		h := lim.Handler(drain)
		h.ServeHTTP(w, tt.r) // the key's first request makes its bucket
		bare := testing.AllocsPerRun(200, func() { drain.ServeHTTP(w, tt.r) })
		limited := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, tt.r) })
		assert.Equal(t, bare, limited, "%s: an allowed request allocates nothing", tt.name)
		assert.Zero(t, testing.AllocsPerRun(200, func() { _ = lim.Check(tt.r) }), tt.name)
	}
}
