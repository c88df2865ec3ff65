package certauth

import (
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRevocation(t *testing.T) {
	k := newPKI(t)
	now := time.Now()
	later := now.Add(time.Hour)
	_, leaf := k.inter.issue(t, certOpts{cn: "leaf"})
	_, revokedLeaf := k.inter.issue(t, certOpts{cn: "revoked"})
	_, direct := k.root.issue(t, certOpts{cn: "direct"})
	chainOf := func(c *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{c, k.inter.cert} }
	other := newCA(t, "Test Root") // same name as the root, another key

	rootCRL := k.root.crlPEM(t, later)
	interCRL := k.inter.crlPEM(t, later, revokedLeaf)
	rootRevokesInter := k.root.crlPEM(t, later, k.inter.cert)
	forgedRootCRL := other.crlPEM(t, later)
	staleRootCRL := k.root.crlPEM(t, now.Add(-time.Minute))
	staleRevoking := k.inter.crlPEM(t, now.Add(-time.Minute), revokedLeaf)

	for _, tc := range []struct {
		name         string
		files        [][]byte
		allowUnknown bool
		certs        []*x509.Certificate
		reason       Reason
		ok           bool
	}{
		{name: "both lists, good leaf", files: [][]byte{rootCRL, interCRL}, certs: chainOf(leaf), ok: true},
		{name: "both lists in one file", files: [][]byte{append(append([]byte{}, rootCRL...), interCRL...)}, certs: chainOf(leaf), ok: true},
		{name: "revoked leaf", files: [][]byte{rootCRL, interCRL}, certs: chainOf(revokedLeaf), reason: ReasonRevoked},
		{name: "revoked intermediate", files: [][]byte{rootRevokesInter, interCRL}, certs: chainOf(leaf), reason: ReasonRevoked},
		{name: "no list for the intermediate's issuer", files: [][]byte{interCRL}, certs: chainOf(leaf), reason: ReasonRevocationUnknown},
		{name: "no list, unknown allowed", files: [][]byte{interCRL}, allowUnknown: true, certs: chainOf(leaf), ok: true},
		{name: "revoked, unknown allowed", files: [][]byte{interCRL}, allowUnknown: true, certs: chainOf(revokedLeaf), reason: ReasonRevoked},
		{name: "list signed by another key", files: [][]byte{forgedRootCRL, interCRL}, certs: chainOf(leaf), reason: ReasonRevocationUnknown},
		{name: "list past NextUpdate", files: [][]byte{staleRootCRL, interCRL}, certs: chainOf(leaf), reason: ReasonRevocationUnknown},
		{name: "stale list still revokes", files: [][]byte{rootCRL, staleRevoking}, allowUnknown: true, certs: chainOf(revokedLeaf), reason: ReasonRevoked},
		{name: "issued by the root", files: [][]byte{rootCRL}, certs: []*x509.Certificate{direct}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			for _, f := range tc.files {
				files = append(files, writeFile(t, "crl.pem", f))
			}
			p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), CRLFiles: files, AllowUnknownRevocation: tc.allowUnknown})
			id, err := p.validate(tc.certs, false, now)
			if tc.ok {
				require.Nil(t, err)
				assert.NotNil(t, id)
				return
			}
			require.NotNil(t, err, "validated")
			assert.Equal(t, tc.reason, err.Reason, "%v", err)
		})
	}
}

func TestCRLFileErrors(t *testing.T) {
	k := newPKI(t)
	for name, data := range map[string][]byte{
		"garbage":  []byte("not a CRL"),
		"cert PEM": pemOf(k.root.cert),
		"empty":    {},
	} {
		_, err := New(Config{ClientCAs: k.root.pool(), CRLFiles: []string{writeFile(t, "crl", data)}})
		assert.ErrorContains(t, err, "windhover/certauth: Config.CRLFiles: ", name)
	}
	_, err := New(Config{ClientCAs: k.root.pool(), CRLFiles: []string{"/nonexistent/crl.pem"}})
	assert.ErrorContains(t, err, "Config.CRLFiles: open /nonexistent/crl.pem")

	// DER is read as well as PEM.
	list, _ := pemDecode(k.root.crlPEM(t, time.Now().Add(time.Hour)))
	_, err = New(Config{ClientCAs: k.root.pool(), CRLFiles: []string{writeFile(t, "crl.der", list)}})
	assert.NoError(t, err)
}

// TestCRLReload revokes a certificate that has been validated and cached:
// by Reload, and by a change of the file noticed after CRLCheckInterval.
func TestCRLReload(t *testing.T) {
	k := newPKI(t)
	_, leaf := k.root.issue(t, certOpts{cn: "leaf"})
	certs := []*x509.Certificate{leaf}
	clean := k.root.crlPEM(t, time.Now().Add(time.Hour))
	revoking := k.root.crlPEM(t, time.Now().Add(time.Hour), leaf)

	t.Run("Reload", func(t *testing.T) {
		path := writeFile(t, "crl.pem", clean)
		clk := newClock(time.Now())
		p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), CRLFiles: []string{path}, CRLCheckInterval: -1, Time: clk.now})
		_, err := p.validate(certs, false, clk.now())
		require.Nil(t, err)
		_, err = p.validate(certs, false, clk.now())
		require.Nil(t, err)
		assert.Equal(t, uint64(1), p.Stats().CacheHits)

		require.NoError(t, os.WriteFile(path, revoking, 0o600))
		clk.advance(time.Hour / 2)
		_, err = p.validate(certs, false, clk.now())
		require.Nil(t, err, "CRLCheckInterval -1: the file is not looked at")

		require.NoError(t, p.Reload())
		_, err = p.validate(certs, false, clk.now())
		require.NotNil(t, err, "the cached result must not survive a reload")
		assert.Equal(t, ReasonRevoked, err.Reason)

		require.NoError(t, os.WriteFile(path, []byte("torn write"), 0o600))
		assert.ErrorContains(t, p.Reload(), "windhover/certauth: reloading CRL files: "+path)
		_, err = p.validate(certs, false, clk.now())
		require.NotNil(t, err, "the lists read before stay in force")
		assert.Equal(t, ReasonRevoked, err.Reason)
		st := p.Stats()
		assert.Equal(t, uint64(1), st.CRLReloads)
		assert.Equal(t, uint64(1), st.CRLReloadFailures)
	})

	t.Run("modification noticed", func(t *testing.T) {
		path := writeFile(t, "crl.pem", clean)
		clk := newClock(time.Now())
		p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), CRLFiles: []string{path}, CRLCheckInterval: time.Minute, Time: clk.now})
		_, err := p.validate(certs, false, clk.now())
		require.Nil(t, err)

		require.NoError(t, os.WriteFile(path, revoking, 0o600)) // another size
		clk.advance(30 * time.Second)
		_, err = p.validate(certs, false, clk.now())
		require.Nil(t, err, "within the interval")
		clk.advance(31 * time.Second)
		_, err = p.validate(certs, false, clk.now())
		require.NotNil(t, err, "past the interval the change is read")
		assert.Equal(t, ReasonRevoked, err.Reason)

		require.NoError(t, os.WriteFile(path, []byte("torn"), 0o600))
		clk.advance(61 * time.Second)
		_, err = p.validate(certs, false, clk.now())
		require.NotNil(t, err)
		assert.Equal(t, ReasonRevoked, err.Reason, "a torn file keeps the lists in force")
		assert.Equal(t, uint64(1), p.Stats().CRLReloadFailures)

		require.NoError(t, os.WriteFile(path, clean, 0o600))
		clk.advance(61 * time.Second)
		_, err = p.validate(certs, false, clk.now())
		assert.Nil(t, err, "retried at the next interval")
		assert.Equal(t, uint64(2), p.Stats().CRLReloads)
	})

	t.Run("NextUpdate ends the cached result", func(t *testing.T) {
		clk := newClock(time.Now())
		path := writeFile(t, "crl.pem", k.root.crlPEM(t, clk.now().Add(time.Minute)))
		p := newPolicy(t, Config{Mode: RequireCertificate, ClientCAs: k.root.pool(), CRLFiles: []string{path}, CRLCheckInterval: -1, Time: clk.now})
		_, err := p.validate(certs, false, clk.now())
		require.Nil(t, err)
		clk.advance(time.Minute + time.Second)
		_, err = p.validate(certs, false, clk.now())
		require.NotNil(t, err)
		assert.Equal(t, ReasonRevocationUnknown, err.Reason)
	})
}
