package rw

import (
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/windhover/windhover/internal/clock"
)

// TestReadingsFoundAndArrival follows a composition's shared readings down a
// chain of Writers: ReadingsOf finds them from any Writer inside the one
// they were set on, but only that one offers them as its own, so a policy
// takes the arrival time from the handler directly outside it and from no
// further.
func TestReadingsFoundAndArrival(t *testing.T) {
	var outer, middle, inner Writer
	outer.Reset(httptest.NewRecorder(), nil)
	assert.Nil(t, ReadingsOf(outer.ResponseWriter()), "a Writer over a plain ResponseWriter carries none")
	assert.Nil(t, Own(outer.ResponseWriter()))

	readings := &clock.Readings{Arrived: clock.Nanos()}
	outer.SetReadings(readings)
	middle.Reset(outer.ResponseWriter(), nil)
	inner.Reset(&middle, nil)
	assert.Same(t, readings, ReadingsOf(middle.ResponseWriter()))
	assert.Same(t, readings, ReadingsOf(inner.ResponseWriter()), "through every Writer between")
	assert.Same(t, readings, Own(outer.ResponseWriter()), "the Writer they were set on offers them as its own")
	assert.Nil(t, Own(middle.ResponseWriter()), "one inside it does not")
	assert.Nil(t, Own(http.ResponseWriter(httptest.NewRecorder())))

	outer.Reset(httptest.NewRecorder(), nil)
	assert.Nil(t, ReadingsOf(outer.ResponseWriter()), "Reset forgets them")
	assert.Nil(t, Own(outer.ResponseWriter()))
}

// TestReadingsAcrossForeignWrapper shows that a wrapper of another kind
// without an Unwrap method between two Writers ends the sharing: nothing
// inside it finds the readings, and its policy reads the clock itself.
func TestReadingsAcrossForeignWrapper(t *testing.T) {
	var outer, inner Writer
	outer.Reset(httptest.NewRecorder(), nil)
	outer.SetReadings(&clock.Readings{Arrived: 1})
	inner.Reset(foreign{outer.ResponseWriter()}, nil)
	assert.Nil(t, ReadingsOf(inner.ResponseWriter()))
}

type foreign struct{ http.ResponseWriter }

// TestWriterSize keeps the Writer at 88 bytes: it is embedded in policies'
// per-request states that sit at the top of their size classes (limits'
// bodyRequest is 512 bytes).
func TestWriterSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	require.EqualValues(t, 88, unsafe.Sizeof(Writer{}))
}

// TestStatusOutOfRange keeps a code net/http refuses from being recorded as
// a valid one when it does not fit the Writer's 32 bits.
func TestStatusOutOfRange(t *testing.T) {
	if math.MaxInt == math.MaxInt32 {
		t.Skip("int is 32 bits: no such code")
	}
	big := int64(1) << 32
	for _, code := range []int{int(big) + 200, int(big) + 101, int(big), -int(big) + 200} {
		var w Writer
		w.Reset(newFake(), nil)
		w.WriteHeader(code)
		assert.NotContains(t, []int{0, 101, 200}, w.Status(), "WriteHeader(%d)", code)
	}
}
