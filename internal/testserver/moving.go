package testserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/windhover/windhover/internal/stripe"
)

// ServeMoving serves ServedMoving requests, each a POST with a small body, through
// wrap(app) on eight goroutines at once, with four processors and an app that
// reads the body and yields between: a request's goroutine then often runs on
// another processor (internal/stripe's cell) when it returns than when it
// came. It is for the tests that a policy's gauges go down in the cell where
// they went up.
func ServeMoving(wrap func(app http.Handler) http.Handler) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for range 3 {
			runtime.Gosched()
		}
	}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range ServedMoving / 8 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("body")))
			}
		})
	}
	wg.Wait()
}

// ServedMoving is how many requests ServeMoving serves.
const ServedMoving = 800

// CheckCells fails t for each cell of the gauge c (named what) that does not
// hold 0: one that holds a request's +1 or -1 without the other.
func CheckCells(t testing.TB, what string, c *stripe.Counter) {
	t.Helper()
	for i := range stripe.Cells {
		if n := c.Cell(i); n != 0 {
			t.Errorf("cell %d of %s holds %d, want 0: a request's +1 or -1 without the other", i, what, n)
		}
	}
}
