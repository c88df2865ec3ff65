// Package benchmarks measures windhover against the bare handler and against
// the libraries people use for the same job. It is a module of its own, so
// that those libraries never enter windhover's go.mod. Each file measures one
// policy, every arm serving the same handler (a ServeMux route that reads
// the body and answers "ok") the same prebuilt request through a writer that
// discards the response:
//
//   - metrics_test.go: metrics.Handler against promhttp's
//     InstrumentHandlerDuration and InstrumentHandlerCounter;
//   - concurrency_test.go: limits.ConcurrencyLimiter against chi's Throttle
//     and ThrottleBacklog;
//   - body_test.go: limits.MaxRequestBodySize against chi's RequestSize and
//     http.MaxBytesHandler, and the whole limits.Limiter;
//   - listener_test.go: the connection limit's listener against
//     golang.org/x/net/netutil.LimitListener, over loopback and in memory;
//   - hostfilter_test.go: hostfilter against unrolled/secure's AllowedHosts;
//   - timeouts_test.go: timeouts.Policy against the bare handler (no library
//     enforces a minimum data rate);
//   - stack_test.go: every policy composed as examples/server composes them,
//     in-process and over loopback (HTTP/1.1 and h2c);
//   - rate_test.go: limits.RateLimiter against github.com/sethvargo/go-limiter
//     and github.com/didip/tollbooth, the store alone and the whole
//     middleware, with one key and with 100,000.
//   - redis_store_test.go: redisstore's Store on rueidis and on go-redis
//     (goredis_client_test.go), the figures its client was chosen by, and
//     against github.com/go-redis/redis_rate, with one key and with
//     100,000, serially and 64 in parallel, against a redis-server the
//     benchmark starts (skipped without one, unless WINDHOVER_REQUIRE_REDIS=1);
//     each reports the round trips a request costs, counted by the server.
//
// Run them with
//
//	cd benchmarks && go test -run '^$' -bench . ./...
//
// e2e.sh measures examples/server under wrk and h2load, and results.sh
// regenerates RESULTS.md from both; README.md says how to read the figures.
package benchmarks
