package limits

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

func TestApplyHTTP2KeepsUserFields(t *testing.T) {
	lim, err := New(Config{HTTP2: HTTP2Limits{KeepAlivePingDelay: time.Minute}})
	require.NoError(t, err)
	user := &http.HTTP2Config{MaxConcurrentStreams: 7, PingTimeout: time.Second, WriteByteTimeout: time.Hour}
	srv := &http.Server{HTTP2: user, MaxHeaderBytes: 1234}
	lim.Apply(srv)
	assert.Equal(t, http.HTTP2Config{
		MaxConcurrentStreams:          7,
		MaxDecoderHeaderTableSize:     4096,
		MaxReadFrameSize:              16384,
		MaxReceiveBufferPerConnection: 1 << 20,
		MaxReceiveBufferPerStream:     768 << 10,
		SendPingTimeout:               time.Minute,
		PingTimeout:                   time.Second,
		WriteByteTimeout:              time.Hour,
	}, *srv.HTTP2)
	assert.Equal(t, http.HTTP2Config{MaxConcurrentStreams: 7, PingTimeout: time.Second, WriteByteTimeout: time.Hour}, *user,
		"the user's configuration is copied, not modified")
	assert.Equal(t, 1234, srv.MaxHeaderBytes, "a MaxHeaderBytes the user set stands")
}

func TestApplyDefaults(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	var srv http.Server
	lim.Apply(&srv)
	assert.Equal(t, 100, srv.HTTP2.MaxConcurrentStreams)
	assert.Equal(t, 20*time.Second, srv.HTTP2.PingTimeout)
	assert.Zero(t, srv.HTTP2.SendPingTimeout, "Kestrel sends no pings by default")
	assert.Equal(t, 8192+2+32768+2+32*104, srv.MaxHeaderBytes)
	assert.NotNil(t, srv.ConnState)

	// A single-limit Limiter touches only what is its own.
	var plain http.Server
	MaxRequestBodySize(10).Apply(&plain)
	assert.Nil(t, plain.HTTP2)
	assert.Zero(t, plain.MaxHeaderBytes)
	assert.Nil(t, plain.ConnState)
}

// TestHTTP2SettingsOnTheWire reads the SETTINGS a server behind Apply sends.
func TestHTTP2SettingsOnTheWire(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	s := serve(t, lim, hello, h2c)
	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	require.NoError(t, fr.WriteSettings())

	got := map[http2.SettingID]uint32{}
	var connWindow uint32
	for connWindow == 0 {
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = f.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connWindow = 65535 + f.Increment
			}
		}
	}
	assert.EqualValues(t, 100, got[http2.SettingMaxConcurrentStreams])
	assert.EqualValues(t, 16384, got[http2.SettingMaxFrameSize])
	assert.EqualValues(t, 768<<10, got[http2.SettingInitialWindowSize])
	assert.EqualValues(t, 1<<20, connWindow)
	assert.EqualValues(t, s.Config.MaxHeaderBytes+320, got[http2.SettingMaxHeaderListSize],
		"net/http derives the header list size from MaxHeaderBytes")
}
