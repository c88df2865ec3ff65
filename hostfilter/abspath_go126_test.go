//go:build !go1.27

package hostfilter

// serverRefusesAbsolutePath: see abspath_go127_test.go.
const serverRefusesAbsolutePath = false
