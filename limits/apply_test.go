package limits

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

func TestApplyHTTP2KeepsStricterUserFields(t *testing.T) {
	lim, err := New(Config{HTTP2: HTTP2Limits{KeepAlivePingDelay: time.Minute}})
	require.NoError(t, err)
	user := &http.HTTP2Config{MaxConcurrentStreams: 7, PingTimeout: time.Second, WriteByteTimeout: time.Hour}
	srv := &http.Server{HTTP2: user, MaxHeaderBytes: 1234}
	require.NoError(t, lim.Apply(srv))
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
	assert.Equal(t, 1234, srv.MaxHeaderBytes, "a lower MaxHeaderBytes the user set stands")

	// Every field at exactly the limit, or stricter, is kept.
	strict := &http.HTTP2Config{
		MaxConcurrentStreams:          100,
		MaxDecoderHeaderTableSize:     1024,
		MaxReadFrameSize:              16384,
		MaxReceiveBufferPerConnection: 65535,
		MaxReceiveBufferPerStream:     1,
		SendPingTimeout:               time.Second,
		PingTimeout:                   20 * time.Second,
	}
	srv = &http.Server{HTTP2: strict}
	require.NoError(t, lim.Apply(srv))
	assert.Equal(t, *strict, *srv.HTTP2)
}

func TestApplyDefaults(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	var srv http.Server
	require.NoError(t, lim.Apply(&srv))
	assert.Equal(t, 100, srv.HTTP2.MaxConcurrentStreams)
	assert.Equal(t, 20*time.Second, srv.HTTP2.PingTimeout)
	assert.Zero(t, srv.HTTP2.SendPingTimeout, "Kestrel sends no pings by default")
	assert.Equal(t, 8192+2+32768+2+32*104, srv.MaxHeaderBytes)
	assert.NotNil(t, srv.ConnState)
	assert.True(t, srv.DisableGeneralOptionsHandler, `"OPTIONS *" goes through the Handler`)

	// A single-limit Limiter touches only what is its own, and routes
	// "OPTIONS *" to its Handler.
	var plain http.Server
	require.NoError(t, MaxRequestBodySize(10).Apply(&plain))
	assert.Nil(t, plain.HTTP2)
	assert.Zero(t, plain.MaxHeaderBytes)
	assert.Nil(t, plain.ConnState)
	assert.True(t, plain.DisableGeneralOptionsHandler)

	// Without its own MaxHeaderBytes a server asks nothing of the limits:
	// a lax one set by the user stands.
	lax := http.Server{MaxHeaderBytes: 1 << 20}
	require.NoError(t, MaxRequestHeaders(10, 100).Apply(&lax))
	assert.Equal(t, 1<<20, lax.MaxHeaderBytes)
}

// TestApplyRefusesWeakerServer gives Apply servers that already allow more
// than a limit: each is an error naming both values and the fix, and the
// server is left as it was.
func TestApplyRefusesWeakerServer(t *testing.T) {
	for _, tt := range []struct {
		name        string
		cfg         Config
		headerBytes int
		h2          *http.HTTP2Config
		want        string
	}{
		{"streams", Config{}, 0, &http.HTTP2Config{MaxConcurrentStreams: 1000},
			"windhover/limits: http.Server.HTTP2.MaxConcurrentStreams = 1000 is over Config.HTTP2.MaxStreamsPerConnection = 100; lower it, or set the limit to 1000"},
		{"header table", Config{}, 0, &http.HTTP2Config{MaxDecoderHeaderTableSize: 65536},
			"windhover/limits: http.Server.HTTP2.MaxDecoderHeaderTableSize = 65536 is over Config.HTTP2.HeaderTableSize = 4096; lower it, or set the limit to 65536"},
		{"frame size", Config{}, 0, &http.HTTP2Config{MaxReadFrameSize: 1 << 20},
			"windhover/limits: http.Server.HTTP2.MaxReadFrameSize = 1048576 is over Config.HTTP2.MaxFrameSize = 16384; lower it, or set the limit to 1048576"},
		{"connection window", Config{HTTP2: HTTP2Limits{InitialConnectionWindowSize: 100000}}, 0, &http.HTTP2Config{MaxReceiveBufferPerConnection: 1 << 20},
			"windhover/limits: http.Server.HTTP2.MaxReceiveBufferPerConnection = 1048576 is over Config.HTTP2.InitialConnectionWindowSize = 100000; lower it, or set the limit to 1048576"},
		{"stream window", Config{}, 0, &http.HTTP2Config{MaxReceiveBufferPerStream: 4 << 20},
			"windhover/limits: http.Server.HTTP2.MaxReceiveBufferPerStream = 4194304 is over Config.HTTP2.InitialStreamWindowSize = 786432; lower it, or set the limit to 4194304"},
		{"ping timeout", Config{}, 0, &http.HTTP2Config{PingTimeout: time.Minute},
			"windhover/limits: http.Server.HTTP2.PingTimeout = 1m0s is over Config.HTTP2.KeepAlivePingTimeout = 20s; lower it, or set the limit to 1m0s"},
		{"ping delay", Config{HTTP2: HTTP2Limits{KeepAlivePingDelay: time.Minute}}, 0, &http.HTTP2Config{SendPingTimeout: time.Hour},
			"windhover/limits: http.Server.HTTP2.SendPingTimeout = 1h0m0s is over Config.HTTP2.KeepAlivePingDelay = 1m0s; lower it, or set the limit to 1h0m0s"},
		{"never pinging", Config{HTTP2: HTTP2Limits{KeepAlivePingDelay: time.Minute}}, 0, &http.HTTP2Config{SendPingTimeout: -1},
			"windhover/limits: http.Server.HTTP2.SendPingTimeout = -1ns is not a value net/http takes (1ns to 2562047h47m16.854775807s), so it would use its own default; set it to 0 for Config.HTTP2.KeepAlivePingDelay = 1m0s, or within that range and no higher"},
		{"frame size net/http ignores", Config{}, 0, &http.HTTP2Config{MaxReadFrameSize: 100},
			"windhover/limits: http.Server.HTTP2.MaxReadFrameSize = 100 is not a value net/http takes (16384 to 16777215), so it would use its own default; set it to 0 for Config.HTTP2.MaxFrameSize = 16384, or within that range and no higher"},
		{"negative streams", Config{}, 0, &http.HTTP2Config{MaxConcurrentStreams: -1},
			"windhover/limits: http.Server.HTTP2.MaxConcurrentStreams = -1 is not a value net/http takes (1 to 2147483647), so it would use its own default; set it to 0 for Config.HTTP2.MaxStreamsPerConnection = 100, or within that range and no higher"},
		{"header bytes", Config{}, 1 << 20, nil,
			"windhover/limits: http.Server.MaxHeaderBytes = 1048576 is over the 44292 that Config.MaxRequestLineSize = 8192 and Config.MaxRequestHeadersTotalSize = 32768 call for; lower it, or raise those limits"},
		{"negative header bytes", Config{MaxRequestHeadersTotalSize: 1000}, -1, nil,
			"windhover/limits: http.Server.MaxHeaderBytes = -1 (net/http uses 1048576) is over the 12524 that Config.MaxRequestLineSize = 8192 and Config.MaxRequestHeadersTotalSize = 1000 call for; lower it, or raise those limits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lim, err := New(tt.cfg)
			require.NoError(t, err)
			srv := &http.Server{MaxHeaderBytes: tt.headerBytes, HTTP2: tt.h2}
			var h2 http.HTTP2Config
			if tt.h2 != nil {
				h2 = *tt.h2
			}
			err = lim.Apply(srv)
			require.ErrorIs(t, err, ErrServerConflict)
			assert.EqualError(t, err, tt.want)
			assert.Equal(t, tt.headerBytes, srv.MaxHeaderBytes, "nothing changed")
			assert.Same(t, tt.h2, srv.HTTP2)
			if srv.HTTP2 != nil {
				assert.Equal(t, h2, *srv.HTTP2)
			}
			assert.False(t, srv.DisableGeneralOptionsHandler)
			assert.Nil(t, srv.ConnState)
		})
	}
}

func TestApplyListsEveryConflict(t *testing.T) {
	lim, err := New(Config{})
	require.NoError(t, err)
	srv := http.Server{MaxHeaderBytes: 1 << 20, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 250, MaxReadFrameSize: 1 << 20}}
	err = lim.Apply(&srv)
	require.ErrorIs(t, err, ErrServerConflict)
	msg := err.Error()
	for _, field := range []string{"MaxHeaderBytes = 1048576", "MaxConcurrentStreams = 250", "MaxReadFrameSize = 1048576"} {
		assert.Contains(t, msg, field)
	}
	assert.Equal(t, 3, strings.Count(msg, "\n")+1, msg)

	// With the limits raised to the server's values, Apply takes them.
	lim, err = New(Config{MaxRequestHeadersTotalSize: 1 << 20, HTTP2: HTTP2Limits{MaxStreamsPerConnection: 250, MaxFrameSize: 1 << 20}})
	require.NoError(t, err)
	require.NoError(t, lim.Apply(&srv))
	assert.Equal(t, 250, srv.HTTP2.MaxConcurrentStreams)
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
