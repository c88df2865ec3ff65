package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/redisstore"
	"github.com/windhover/windhover/redisstore/redistest"
)

// redisParallelism is the number of goroutines of the parallel benchmarks
// against Redis: as many requests in flight as a busy server has.
const redisParallelism = 64

// A redisArm is one way of taking a token from Redis for key i.
type redisArm struct {
	name  string
	allow func(ctx context.Context, key string) (bool, error)
}

// BenchmarkRedisClient measures redisstore's Store.Allow through each Go
// Redis client, with their default options, against a local redis-server:
// the figures by which redisstore chose its client.
func BenchmarkRedisClient(b *testing.B) {
	srv := redistest.Start(b)
	gr := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer gr.Close()
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ru.Close()
	q := limits.Quota{Rate: allowRate, Burst: allowBurst}
	arms := []redisArm{
		{"go-redis", storeArm(b, goRedisClient(gr), q)},
		{"rueidis", storeArm(b, redisstore.Rueidis(ru), q)},
	}
	compareRedis(b, srv, arms)
}

// BenchmarkRedisStore measures redisstore against github.com/go-redis/redis_rate
// (GCRA in one script too, on go-redis). It reports the round trips each
// request costs, counted by the server (INFO commandstats). The third peer
// the issue names, github.com/go-chi/httprate-redis, is not served by the
// module proxy, so it is left out.
func BenchmarkRedisStore(b *testing.B) {
	srv := redistest.Start(b)
	gr := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer gr.Close()
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ru.Close()
	q := limits.Quota{Rate: allowRate, Burst: allowBurst}
	rr := redis_rate.NewLimiter(gr)
	limit := redis_rate.Limit{Rate: allowRate, Burst: allowBurst, Period: time.Second}
	arms := []redisArm{
		{"windhover-rueidis", storeArm(b, redisstore.Rueidis(ru), q)},
		{"windhover-go-redis", storeArm(b, goRedisClient(gr), q)},
		{"redis_rate", func(ctx context.Context, key string) (bool, error) {
			r, err := rr.Allow(ctx, key, limit)
			if err != nil {
				return false, err
			}
			return r.Allowed == 1, nil
		}},
	}
	compareRedis(b, srv, arms)
}

func storeArm(b *testing.B, c redisstore.Client, q limits.Quota) func(context.Context, string) (bool, error) {
	s, err := redisstore.New(c, redisstore.Config{Mode: redisstore.FailClosed, Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, key string) (bool, error) {
		d, err := s.Allow(ctx, key, q, time.Time{})
		return d.Allowed, err
	}
}

// compareRedis measures the arms with 1 and 100,000 keys, serially and
// from redisParallelism goroutines, and reports the round trips to Redis
// per request.
func compareRedis(b *testing.B, srv *redistest.Server, arms []redisArm) {
	ctx := context.Background()
	for _, n := range keyCounts {
		keys := make([]string, n)
		for i, a := range clients(n) {
			keys[i] = a.String()
		}
		shuffle(keys)
		for _, mode := range []string{"serial", "parallel"} {
			for _, arm := range arms {
				b.Run(fmt.Sprintf("keys=%d/%s/%s", n, mode, arm.name), func(b *testing.B) {
					b.ReportAllocs()
					before := roundTrips(b, srv)
					do := func(i int) {
						ok, err := arm.allow(ctx, keys[i])
						if err != nil || !ok {
							panic(fmt.Sprintf("%s: allowed %v, error %v", arm.name, ok, err))
						}
					}
					ops := 0
					if mode == "serial" {
						i := 0
						for b.Loop() {
							do(i)
							if i++; i == n {
								i = 0
							}
							ops++
						}
					} else {
						var start, count atomic.Int64
						b.SetParallelism(max(1, redisParallelism/runtime.GOMAXPROCS(0)))
						b.RunParallel(func(pb *testing.PB) {
							i := int(start.Add(7919) % int64(n))
							for pb.Next() {
								do(i)
								if i++; i == n {
									i = 0
								}
								count.Add(1)
							}
						})
						ops = int(count.Load())
					}
					b.ReportMetric(float64(roundTrips(b, srv)-before)/float64(max(1, ops)), "roundtrips/op")
				})
			}
		}
	}
}

// roundTrips returns the requests Redis has served that run a script:
// EVALSHA, EVAL, SCRIPT.
func roundTrips(b *testing.B, srv *redistest.Server) int64 {
	calls, err := srv.CommandCalls()
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for cmd, c := range calls {
		switch cmd {
		case "evalsha", "eval", "script", "script|load", "script|exists":
			n += c
		}
	}
	return n
}
