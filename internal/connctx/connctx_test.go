package connctx

import (
	"context"
	"testing"
	"unsafe"

	"github.com/windhover/windhover/internal/testserver"
)

type otherKey struct{}

func TestWithShares(t *testing.T) {
	base := context.WithValue(context.Background(), otherKey{}, "other")
	a, b := new(int), new(int)
	ctx := With(base, Wire, a)
	if got := With(ctx, Conn, b); got != ctx {
		t.Errorf("a free slot in the values just made: With made new values")
	}
	if Get(ctx, Wire) != a || Get(ctx, Conn) != b || Get(ctx, Record) != nil {
		t.Errorf("Get = %v, %v, %v; want %p, %p, nil", Get(ctx, Wire), Get(ctx, Conn), Get(ctx, Record), a, b)
	}
	if got := ctx.Value(otherKey{}); got != "other" {
		t.Errorf("another key through the values = %v, want other", got)
	}
}

func TestWithWraps(t *testing.T) {
	first, second := new(int), new(int)
	ctx := With(context.Background(), Record, first)
	// A slot taken, and values under another context: new values on top.
	outer := With(ctx, Record, second)
	if outer == ctx {
		t.Fatal("a taken slot was overwritten")
	}
	mid := context.WithValue(outer, otherKey{}, 1)
	third := new(int)
	top := With(mid, Record, third)
	if top == mid {
		t.Fatal("With did not wrap a context other than its values")
	}
	var got []any
	for v := Of(top); v != nil; v = v.Next() {
		got = append(got, v.Slot(Record))
	}
	if len(got) != 3 || got[0] != third || got[1] != second || got[2] != first {
		t.Errorf("the values' Record slots, outermost first = %v, want %p %p %p", got, third, second, first)
	}
	if Get(top, Record) != third {
		t.Errorf("Get did not find the value kept last")
	}
	if Get(context.Background(), Wire) != nil {
		t.Errorf("Get found a value in a context without values")
	}
}

// TestWithUnderLayer: values under a context another hook added are never
// filled in place, even where the slot is free: that hook's context, which it
// may have handed on, keeps what it saw.
func TestWithUnderLayer(t *testing.T) {
	a, b := new(int), new(int)
	inner := With(context.Background(), Wire, a)
	layer := context.WithValue(inner, otherKey{}, 1)
	top := With(layer, Conn, b)
	if Get(inner, Conn) != nil {
		t.Errorf("the values under another layer were filled")
	}
	if Of(top) == Of(inner) || Get(top, Conn) != b || Get(top, Wire) != a {
		t.Errorf("With over another layer: Conn %v, Wire %v; want new values holding %p over %p", Get(top, Conn), Get(top, Wire), b, a)
	}
}

func TestValuesSize(t *testing.T) {
	testserver.SizeAtMost(t, "a connection's values", unsafe.Sizeof(Values{}), 64)
}
