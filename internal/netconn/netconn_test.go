package netconn

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

type (
	netConnWrapper struct{ net.Conn }
	unwrapWrapper  struct{ net.Conn }
	selfWrapper    struct{ net.Conn }
)

func (w netConnWrapper) NetConn() net.Conn { return w.Conn }
func (w unwrapWrapper) Unwrap() net.Conn   { return w.Conn }
func (w *selfWrapper) NetConn() net.Conn   { return w }

func TestFind(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	wrapped := netConnWrapper{unwrapWrapper{netConnWrapper{a}}}

	var layers []net.Conn
	for l := range Layers(wrapped) {
		layers = append(layers, l)
	}
	assert.Len(t, layers, 4)
	assert.Equal(t, a, layers[3])

	got, ok := Find[unwrapWrapper](wrapped)
	assert.True(t, ok)
	assert.Equal(t, a, got.Conn.(netConnWrapper).Conn)
	_, ok = Find[*net.TCPConn](wrapped)
	assert.False(t, ok)

	loop := &selfWrapper{a}
	n := 0
	for range Layers(loop) {
		n++
	}
	assert.Equal(t, maxDepth, n, "a wrapper that returns itself ends the walk at the bound")
	_, ok = Find[*net.TCPConn](netConnWrapper{nil})
	assert.False(t, ok, "a nil layer ends the walk")
}

// TestInnermost: the last layer Layers yields, and whether the walk reached
// the bottom.
func TestInnermost(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	for _, c := range []net.Conn{a, netConnWrapper{unwrapWrapper{netConnWrapper{a}}}} {
		in, ok := Innermost(c)
		assert.True(t, ok)
		assert.Equal(t, a, in)
		var last net.Conn
		for l := range Layers(c) {
			last = l
		}
		assert.Equal(t, last, in, "the last layer Layers yields")
	}
	in, ok := Innermost(netConnWrapper{nil})
	assert.True(t, ok, "a nil layer ends the walk")
	assert.Equal(t, netConnWrapper{nil}, in)

	// Exactly as deep as Layers walks, then one deeper.
	var c net.Conn = a
	for range maxDepth - 1 {
		c = netConnWrapper{c}
	}
	in, ok = Innermost(c)
	assert.True(t, ok, "%d layers", maxDepth)
	assert.Equal(t, a, in)
	in, ok = Innermost(netConnWrapper{c})
	assert.False(t, ok, "%d layers", maxDepth+1)
	assert.NotEqual(t, a, in)
	loop := &selfWrapper{a}
	_, ok = Innermost(loop)
	assert.False(t, ok, "a wrapper that returns itself")
}
