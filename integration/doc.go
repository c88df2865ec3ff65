// Package integration proves windhover against real peers: h2spec, curl,
// openssl, nginx, slowhttptest, wrk, h2load and systemd-socket-activate,
// driving the example server (examples/server) as a user would run it.
//
// Its tests carry the build tag integration and need those programs on PATH;
// a missing one fails the test, it is never skipped. .ci/run installs them
// and runs
//
//	go test -tags integration -count=1 ./integration/
package integration
