// Package benchmarks measures windhover against the libraries people use for
// the same job. It is a module of its own, so that those libraries never
// enter windhover's go.mod; run it with
//
//	cd benchmarks && go test -run xxx -bench . -benchtime 100x ./...
//
// rate_test.go compares limits.RateLimiter with github.com/sethvargo/go-limiter
// (its memorystore) and github.com/didip/tollbooth, each allowing every
// request, at two levels: the store alone (a key in, a decision out) and the
// whole middleware keyed by the client address, serially and in parallel,
// with one key and with 100,000 visited in a random order.
package benchmarks
