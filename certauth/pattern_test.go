package certauth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPatternHandedBack checks that the ServeMux's pattern reaches the
// request the Handler was given, whether or not the Handler handed on a
// copy with an identity: middleware in front (metrics' route) sees it.
func TestPatternHandedBack(t *testing.T) {
	p, cases := benchCases(t)
	mux := http.NewServeMux()
	var identified bool
	mux.HandleFunc("GET /{path...}", func(w http.ResponseWriter, r *http.Request) { identified = FromRequest(r) != nil })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req().Clone(tc.req().Context())
			r.Pattern = ""
			p.Handler(mux).ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, tc.name != "no certificate", identified, "the request went through a copy with an identity")
			assert.Equal(t, "GET /{path...}", r.Pattern)
		})
	}
}
