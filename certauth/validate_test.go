package certauth

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidation runs every validation option at its edge, through the
// validation that handshakes, requests and forwarded certificates share.
func TestValidation(t *testing.T) {
	k := newPKI(t)
	now := time.Now().Truncate(time.Second)
	foreign := newCA(t, "Foreign Root")

	_, good := k.root.issue(t, certOpts{cn: "good"})
	_, serverOnly := k.root.issue(t, certOpts{cn: "server-only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	_, noEKU := k.root.issue(t, certOpts{cn: "no-eku", noEKU: true})
	_, anyEKU := k.root.issue(t, certOpts{cn: "any-eku", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	_, edge := k.root.issue(t, certOpts{cn: "edge", notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)})
	_, self := selfSigned(t, certOpts{cn: "self"})
	_, selfServer := selfSigned(t, certOpts{cn: "self-server", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	_, stranger := foreign.issue(t, certOpts{cn: "stranger"})
	_, viaInter := k.inter.issue(t, certOpts{cn: "via-intermediate"})
	interPool := x509.NewCertPool()
	interPool.AddCert(k.inter.cert)

	errCustom := errors.New("not on the list")

	for _, tc := range []struct {
		name   string
		cfg    Config
		certs  []*x509.Certificate
		at     time.Time // zero: now
		reason Reason    // when refused
		ok     bool
	}{
		{name: "chained", certs: []*x509.Certificate{good}, ok: true},
		{name: "server auth only", certs: []*x509.Certificate{serverOnly}, reason: ReasonNotForClientAuth},
		{name: "server auth only, EKU skipped", cfg: Config{SkipClientAuthEKU: true}, certs: []*x509.Certificate{serverOnly}, ok: true},
		{name: "no EKU is any use", certs: []*x509.Certificate{noEKU}, ok: true},
		{name: "any EKU", certs: []*x509.Certificate{anyEKU}, ok: true},
		{name: "at NotBefore", certs: []*x509.Certificate{edge}, at: now.Add(-time.Hour), ok: true},
		{name: "before NotBefore", certs: []*x509.Certificate{edge}, at: now.Add(-time.Hour - time.Nanosecond), reason: ReasonNotYetValid},
		{name: "at NotAfter", certs: []*x509.Certificate{edge}, at: now.Add(time.Hour), ok: true},
		{name: "after NotAfter", certs: []*x509.Certificate{edge}, at: now.Add(time.Hour + time.Nanosecond), reason: ReasonExpired},
		{name: "self-signed, chained only", certs: []*x509.Certificate{self}, reason: ReasonSelfSigned},
		{name: "self-signed allowed", cfg: Config{AllowedTypes: SelfSigned}, certs: []*x509.Certificate{self}, ok: true},
		{name: "self-signed, all", cfg: Config{AllowedTypes: All}, certs: []*x509.Certificate{self}, ok: true},
		{name: "self-signed server auth only", cfg: Config{AllowedTypes: All}, certs: []*x509.Certificate{selfServer}, reason: ReasonNotForClientAuth},
		{name: "chained, self-signed only", cfg: Config{AllowedTypes: SelfSigned}, certs: []*x509.Certificate{good}, reason: ReasonChained},
		{name: "unknown root", certs: []*x509.Certificate{stranger}, reason: ReasonUntrusted},
		{name: "intermediate sent", certs: []*x509.Certificate{viaInter, k.inter.cert}, ok: true},
		{name: "intermediate missing", certs: []*x509.Certificate{viaInter}, reason: ReasonUntrusted},
		{name: "intermediate configured", cfg: Config{Intermediates: interPool}, certs: []*x509.Certificate{viaInter}, ok: true},
		{name: "root as the client", certs: []*x509.Certificate{k.root.cert}, reason: ReasonSelfSigned},
		{name: "callback refuses", cfg: Config{Validate: func(id *Identity) error {
			if id.Subject == good.Subject.String() {
				return errCustom
			}
			return nil
		}}, certs: []*x509.Certificate{good}, reason: ReasonCallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			if at.IsZero() {
				at = now
			}
			cfg := tc.cfg
			cfg.Mode = RequireCertificate
			if cfg.ClientCAs == nil && cfg.AllowedTypes != SelfSigned {
				cfg.ClientCAs = k.root.pool()
			}
			cfg.Time = func() time.Time { return at }
			p := newPolicy(t, cfg)
			id, err := p.validate(tc.certs, false, at)
			if tc.ok {
				require.Nil(t, err)
				assert.Equal(t, tc.certs[0], id.Certificate)
				assert.Equal(t, tc.certs[0], id.Chain[0])
				assert.Equal(t, tc.certs[0].Subject.String(), id.Subject)
				return
			}
			require.NotNil(t, err, "validated")
			assert.Equal(t, tc.reason, err.Reason, "%v", err)
			assert.ErrorIs(t, err, tc.reason.sentinel())
			assert.Equal(t, tc.certs[0].Subject.String(), err.Subject)
			if tc.reason == ReasonCallback {
				assert.ErrorIs(t, err, errCustom)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	k := newPKI(t)
	_, leaf := k.inter.issue(t, certOpts{cn: "alice", dns: []string{"alice.example.com"}})
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool()})
	id, err := p.validate([]*x509.Certificate{leaf, k.inter.cert}, false, time.Now())
	require.Nil(t, err)
	assert.Equal(t, []*x509.Certificate{leaf, k.inter.cert, k.root.cert}, id.Chain)
	assert.Equal(t, "CN=alice,O=windhover test", id.Subject)
	assert.Equal(t, []string{"alice.example.com"}, id.SANs())
	assert.Len(t, id.FingerprintHex(), 64)
	assert.False(t, id.SelfSigned)
	assert.False(t, id.Forwarded)
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Reason: ReasonExpired, Subject: "CN=alice"}
	assert.Equal(t, "windhover/certauth: client certificate has expired (CN=alice)", e.Error())
	e = &Error{Reason: ReasonMisdirected, Host: "api.example.com", ServerName: "www.example.com"}
	assert.Equal(t, `windhover/certauth: request names a host whose certificate policy this connection did not apply (host "api.example.com", server name "www.example.com")`, e.Error())
	cause := errors.New("boom")
	e = &Error{Reason: ReasonCallback, Err: cause}
	assert.ErrorIs(t, e, ErrCallback)
	assert.ErrorIs(t, e, cause)
	assert.Contains(t, e.Error(), ": boom")
	for r := range numReasons {
		assert.NotEmpty(t, r.String())
		assert.NotContains(t, r.String(), "reason_")
		want := 403
		if r == ReasonMisdirected {
			want = 421
		}
		assert.Equal(t, want, r.Status(), r.String())
	}
	assert.Equal(t, "reason_200", Reason(200).String())
}
