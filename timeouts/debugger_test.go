package timeouts

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
	"github.com/windhover/windhover/internal/tracer"
)

// With a debugger attached (pretended: a process cannot trace itself; see
// debugger_linux_test.go for strace attached to a server), a body sent at
// half the minimum rate and a response read by a client that stalls for
// several grace periods both complete; with EnforceWhenDebugged, the body
// is cut as without a debugger. Over every protocol.
func TestRatesStandDownUnderDebugger(t *testing.T) {
	defer tracer.Pretend(true)()
	for _, p := range testserver.All {
		t.Run(string(p), func(t *testing.T) {
			var v violations
			pol, err := New(Config{MinRequestBodyDataRate: testRate, MinResponseDataRate: Rate{BytesPerSecond: 100_000, GracePeriod: testRate.GracePeriod}, OnReject: v.record})
			require.NoError(t, err)
			mux := http.NewServeMux()
			body := newReadAll()
			mux.Handle("POST /", body)
			resp := newEndless(false)
			resp.size = 32 << 20
			mux.Handle("GET /", resp)
			s := serve(t, pol, mux, p)

			// Half the rate, for four grace periods.
			code := sendTrickle(t, s, &trickle{chunk: 1000, total: 12_000, interval: 100 * time.Millisecond})
			assert.Equal(t, http.StatusOK, code)
			_, readErr := body.result(t)
			assert.NoError(t, readErr)

			rest := stalledClient(t, s, false)
			time.Sleep(4 * testRate.GracePeriod)
			n, err := rest()
			assert.NoError(t, err)
			assert.EqualValues(t, resp.size, n, "the whole response")
			written, _, writeErr := resp.result(t)
			assert.NoError(t, writeErr)
			assert.Equal(t, resp.size, written)

			assert.Empty(t, v.all())
			assert.Zero(t, pol.Stats().BodyRateViolations+pol.Stats().ResponseRateViolations)

			enforcing, err := New(Config{MinRequestBodyDataRate: testRate, EnforceWhenDebugged: true})
			require.NoError(t, err)
			s = serve(t, enforcing, newReadAll(), p)
			code = sendTrickle(t, s, &trickle{chunk: 1000, total: 12_000, interval: 100 * time.Millisecond})
			assert.Equal(t, http.StatusRequestTimeout, code)
			assert.EqualValues(t, 1, enforcing.Stats().BodyRateViolations)
		})
	}
}
