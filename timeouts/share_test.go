package timeouts

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/clock"
	"github.com/windhover/windhover/internal/rw"
)

// TestHandlerSharesReturnTime shows that a Handler a composition turned
// sharing on in (clock.Share) gives the composition's readings the time it
// reads once the application has returned, and that one that does not share
// leaves them alone.
func TestHandlerSharesReturnTime(t *testing.T) {
	p, err := New(Config{})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	for _, share := range []bool{false, true} {
		h := p.Handler(app)
		if share {
			require.True(t, clock.Share(h))
		}
		var outer rw.Writer
		outer.Reset(httptest.NewRecorder(), nil)
		const cell = 5 // the composition's, as metrics would share it
		readings := &clock.Readings{Arrived: clock.Nanos(), Cell: cell}
		outer.SetReadings(readings)
		before := p.policed.Cell(cell)
		h.ServeHTTP(outer.ResponseWriter(), httptest.NewRequest(http.MethodGet, "/", nil))
		if !share {
			assert.Zero(t, readings.Returned, "a handler that does not share gives nothing")
			continue
		}
		assert.Equal(t, before+1, p.policed.Cell(cell), "counted in the composition's cell")
		assert.GreaterOrEqual(t, readings.Returned, readings.Arrived, "read after the arrival")
		assert.LessOrEqual(t, readings.Returned, clock.Nanos(), "read before the handler returned")
	}
}
