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
