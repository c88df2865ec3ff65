// Package redisstore is a [limits.Store] on Redis (or Valkey), so that every
// instance of a service enforces one rate limit: a [limits.RateLimiter]
// whose RateConfig.Store is a [Store] takes each client's tokens from one
// bucket in Redis, wherever the request lands, instead of one bucket per
// instance, which behind a load balancer admits N times the limit.
//
// It is a module of its own, so that windhover's go.mod has no Redis
// client; it brings one, github.com/redis/rueidis.
//
// # One round trip
//
// Each request costs one EVALSHA of a Lua script doing GCRA (the generic
// cell rate algorithm, a token bucket kept as one timestamp per key), read
// and written atomically by the server, by the server's clock (TIME), so
// that the instances' clocks, skewed or not, play no part. A server that has
// forgotten the script (restarted, failed over, SCRIPT FLUSH) answers
// NOSCRIPT, and the same call sends it with EVAL. Each key expires a fill
// time (the emission interval times the burst) after its last write, when
// its bucket is surely full, so Redis holds only the buckets in use. Its
// Decisions are those of a [limits.MemoryStore] for the same bucket, so the
// RateLimiter sends the same RateLimit, RateLimit-Policy and Retry-After
// fields.
//
// Keys are Config.Prefix and the client key, with every byte outside
// printable ASCII, and '%', '{' and '}', escaped as %XX: one to one, and
// with no hash tag a client could choose, so that in a Redis Cluster the
// keys spread over the slots. The script touches one key, as Cluster
// requires; TestCluster runs the Store on a cluster of three primaries,
// which redistest.StartCluster starts.
//
// # When Redis fails
//
// Each call is bounded by Config.Timeout (50 ms by default), within the
// request's own deadline. When Redis fails to answer in time, or answers
// an error, the Store decides by Config.Mode: [Fallback], a local
// [limits.MemoryStore] at the instance's share of the quota
// (Rate/Instances); [FailOpen], every request allowed; or [FailClosed], an
// error, which the RateLimiter answers with 503. It then decides by the
// Mode without asking Redis, so that a Redis that is down costs no request
// a timeout, until one request a Config.ProbeInterval (250 ms) asks it
// again and finds it back: recovery needs no restart, and no goroutine is
// started, per request or at all.
//
// [Store.Stats] counts the decisions, the failures by reason and the
// requests decided without Redis; [Store.Collector] exports them to
// Prometheus as windhover's metrics package does its policies'.
//
// # The client
//
// [Client] is the two commands the Store needs; [Rueidis] adapts a rueidis
// client the application already has (single node, Cluster or Sentinel), and
// a few lines adapt any other (windhover's benchmarks module has one for
// go-redis). rueidis was
// chosen by benchmark against go-redis: with 64 requests in flight it
// decided about twice as fast, its automatic pipelining sharing one
// connection, with a third of the allocations (see the README).
package redisstore
