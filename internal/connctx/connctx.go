// Package connctx keeps what windhover's policies attach to a connection in
// one value of the connection's context, instead of a context.WithValue
// each: every open connection holds the value, idle ones included, and each
// request's lookups walk the context to it.
//
// A policy's http.Server.ConnContext hook calls [With]; where the hook
// before it in the server's chain returned the values With made, the slot
// is filled in place, so the policies composed on one server share one
// value of 64 bytes instead of three of 48. A request finds a slot with
// [Get], or, when two policies of one kind serve the server, each values in
// turn with [Of] and [Values.Next].
//
// The slots are filled only while the server's ConnContext chain runs,
// before net/http serves the connection, and only windhover reads them:
// a user's hook that hands the context to another goroutine never reads a
// slot being filled, as the values answer every other key from the context
// they wrap.
package connctx

import "context"

// Slot names what a policy keeps for a connection.
type Slot uint8

const (
	// Wire is the h1wire.Conn under the connection.
	Wire Slot = iota
	// Conn is the net.Conn net/http serves, for timeouts' deadlines.
	Conn
	// Record is a metrics.Metrics' record of the connection.
	Record

	numSlots
)

// Values is the one value the policies add to a connection's context.
type Values struct {
	context.Context
	slots [numSlots]any
}

// keyType is the type of the key under which values find themselves; a
// pointer to it converts to an interface without allocating.
type keyType struct{ _ byte }

var key = &keyType{}

// Value returns v for the package's key and asks the wrapped context for
// every other one.
func (v *Values) Value(k any) any {
	if k == any(key) {
		return v
	}
	return v.Context.Value(k)
}

// With returns ctx with x kept in slot s. If ctx is the values of a hook
// just before (the usual chain of windhover's hooks) and s is free there, x
// goes into them; otherwise into new values wrapping ctx, whose slot is
// found first, as a context.WithValue's would be.
func With(ctx context.Context, s Slot, x any) context.Context {
	if v, ok := ctx.(*Values); ok && v.slots[s] == nil {
		v.slots[s] = x
		return v
	}
	v := &Values{Context: ctx}
	v.slots[s] = x
	return v
}

// Get returns what ctx keeps in slot s: the value kept last, or nil.
func Get(ctx context.Context, s Slot) any {
	for v := Of(ctx); v != nil; v = v.Next() {
		if x := v.slots[s]; x != nil {
			return x
		}
	}
	return nil
}

// Of returns the values nearest to ctx: those [With] made or filled last;
// nil if there are none.
func Of(ctx context.Context) *Values {
	v, _ := ctx.Value(key).(*Values)
	return v
}

// Slot returns what v itself keeps in slot s, or nil. A policy that may
// share a slot with another of its kind (two on one server) walks v and
// [Values.Next] for its own. Where a connection's values are found without
// its context (see h1wire.ValuesOf), they are read from here.
func (v *Values) Slot(s Slot) any { return v.slots[s] }

// Next returns the values v wraps, made earlier in the chain of hooks, or
// nil.
func (v *Values) Next() *Values { return Of(v.Context) }
