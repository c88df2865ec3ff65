package graceful

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policy stands for another windhover handler behind Handler.
type policy struct {
	http.Handler
}

func (policy) HandlesOptionsStar() {}

// "OPTIONS *" on a server that hands it to its Handler (every windhover
// Apply sets DisableGeneralOptionsHandler) is counted like any request; in
// front of the application, Handler answers it as net/http would, and in
// front of another windhover handler leaves the answer to it.
func TestOptionsStar(t *testing.T) {
	var appSaw, policySaw atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appSaw.Add(1)
		w.WriteHeader(http.StatusTeapot)
	})
	inner := policy{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		policySaw.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})}
	for _, tc := range []struct {
		name   string
		next   http.Handler
		status int
		saw    *atomic.Int32
	}{
		{"before the application", app, 200, nil},
		{"before another policy", inner, 202, &policySaw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{})
			require.NoError(t, err)
			ep := addServer(t, g, overH1, g.Handler(tc.next), func(s *http.Server) { s.DisableGeneralOptionsHandler = true })
			start(t, g)
			c := ep.dialRaw(t)
			c.Send(t, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
			res, body := c.Response(t)
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Empty(t, body)
			if tc.status == 200 {
				assert.Equal(t, "0", res.Header.Get("Content-Length"))
			}
			c.Send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, _ = c.Response(t)
			_, _ = io.Copy(io.Discard, res.Body)
			eventually(t, func() bool { return g.Stats().Served == 2 }, "both requests counted")
		})
	}
	assert.EqualValues(t, 1, appSaw.Load(), "the application saw only the GET")
	assert.EqualValues(t, 2, policySaw.Load(), "the inner policy answered both")
}
