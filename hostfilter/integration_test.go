//go:build integration

package hostfilter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// TestCurl sends the Host curl is told to, which over HTTP/2 it puts in
// :authority, over every protocol.
func TestCurl(t *testing.T) {
	for _, p := range []testserver.Proto{testserver.H1, testserver.H2, testserver.H2C} {
		t.Run(string(p), func(t *testing.T) {
			f := Allow("example.com", "*.example.com", "127.0.0.1")
			s := testserver.Start(t, f.Handler(hello), p)
			version := map[testserver.Proto]string{testserver.H1: "1.1", testserver.H2: "2", testserver.H2C: "2"}[p]
			for _, tt := range []struct {
				host, want string
			}{
				{"", "200"}, // curl names 127.0.0.1 from the URL
				{"API.Example.com:8443", "200"},
				{"example.com.", "200"},
				{"evil.example", "400"},
				{"x..example.com", "400"},
			} {
				args := []string{testserver.CurlFlag(p), s.URL + "/"}
				if tt.host != "" {
					args = append(args, "-H", "Host: "+tt.host)
				}
				res := testserver.Curl(t, s, args...)
				require.Zero(t, res.Exit, "curl: %s", res.Trace)
				assert.Equal(t, tt.want+" "+version, res.Out, "Host %q", tt.host)
			}
			assert.Equal(t, Stats{Allowed: 3, Rejected: [NumReasons]uint64{ReasonMalformedHost: 1, ReasonHostNotAllowed: 1}}, f.Stats())
		})
	}
}
