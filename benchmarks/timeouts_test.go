package benchmarks

import (
	"testing"

	"github.com/windhover/windhover/timeouts"
)

// BenchmarkTimeouts measures timeouts.Policy.Handler, Kestrel's minimum
// request-body and response data rates, against the bare handler. No Go
// library enforces a minimum data rate, so there is no peer: http.Server's
// ReadTimeout and WriteTimeout, and http.TimeoutHandler, bound a whole
// request instead and cost nothing per read. The requests are a GET with a
// small response and a 1 MiB body read to the end in 8 KiB reads.
func BenchmarkTimeouts(b *testing.B) {
	pol, err := timeouts.New(timeouts.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body int
	}{
		{"small", 0},
		{"body=1MiB", 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			serveArms(b, load{body: tc.body}, []arm{
				{"bare", app()},
				{"windhover", pol.Handler(app())},
			})
		})
	}
}
