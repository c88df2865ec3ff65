package certauth

import (
	"crypto/x509"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// derN is a stand-in for the DER of certificate i.
func derN(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

func TestCacheBoundAndLRU(t *testing.T) {
	now := time.Now()
	res := result{id: &Identity{}, notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)}
	c := newCache(DefaultCacheSize, DefaultCacheExpiry)
	for i := range 10 * DefaultCacheSize {
		c.put(derN(i), false, res, now)
		if i%3 == 0 {
			c.get(derN(0), false, now, 0) // keep the first one in use
		}
	}
	assert.Equal(t, DefaultCacheSize, c.len(), "a flood of distinct certificates stays within the bound")
	assert.NotNil(t, c.get(derN(0), false, now, 0), "the entry in use survives")
	assert.NotNil(t, c.get(derN(10*DefaultCacheSize-1), false, now, 0), "the newest survives")
	assert.Nil(t, c.get(derN(1), false, now, 0), "the least recently used went first")

	var off *cache = newCache(-1, time.Minute)
	off.put(derN(1), false, res, now)
	assert.Nil(t, off.get(derN(1), false, now, 0))
	assert.Zero(t, off.len())
}

func TestCacheExpiry(t *testing.T) {
	now := time.Now()
	res := result{id: &Identity{}, notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour), gen: 3}
	c := newCache(4, 2*time.Minute)
	c.put(derN(1), false, res, now)

	assert.NotNil(t, c.get(derN(1), false, now.Add(2*time.Minute), 3), "sliding: used at 2 min")
	assert.NotNil(t, c.get(derN(1), false, now.Add(4*time.Minute), 3), "used again at 4 min")
	assert.Nil(t, c.get(derN(1), false, now.Add(6*time.Minute+1), 3), "unused for more than 2 min")
	assert.Zero(t, c.len(), "an expired entry is dropped when found")

	c.put(derN(1), false, res, now)
	assert.Nil(t, c.get(derN(1), false, now, 4), "another CRL generation")

	long := newCache(4, 24*time.Hour)
	long.put(derN(1), false, res, now)
	assert.Nil(t, long.get(derN(1), false, now.Add(-time.Hour-1), 3), "before the chain's NotBefore")
	long.put(derN(1), false, res, now)
	assert.NotNil(t, long.get(derN(1), false, now.Add(time.Hour), 3), "at NotAfter")
	assert.Nil(t, long.get(derN(1), false, now.Add(time.Hour+1), 3), "after NotAfter")

	// Entries unused for longer than the expiry are dropped when others are
	// added, not only when looked up.
	c.put(derN(1), false, res, now)
	c.put(derN(2), false, res, now.Add(time.Minute))
	c.put(derN(3), false, res, now.Add(3*time.Minute))
	assert.Equal(t, 2, c.len())
}

// TestPolicyCacheFlood sends many distinct valid certificates through a
// small cache, and failing ones that must not displace good results.
func TestPolicyCacheFlood(t *testing.T) {
	k := newPKI(t)
	p := newPolicy(t, Config{Mode: AllowCertificate, ClientCAs: k.root.pool(), AllowedTypes: All, CacheSize: 8})
	now := time.Now()
	_, good := k.root.issue(t, certOpts{cn: "good"})
	_, err := p.validate([]*x509.Certificate{good}, false, now)
	require.Nil(t, err)
	for range 50 {
		_, bad := k.root.issue(t, certOpts{cn: "bad", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		_, err := p.validate([]*x509.Certificate{bad}, false, now)
		require.NotNil(t, err)
	}
	assert.Equal(t, 1, p.Stats().CacheEntries, "failures are not cached")
	_, err = p.validate([]*x509.Certificate{good}, false, now)
	require.Nil(t, err)
	assert.Equal(t, uint64(1), p.Stats().CacheHits)

	for range 40 {
		_, self := selfSigned(t, certOpts{cn: "self"})
		_, err := p.validate([]*x509.Certificate{self}, false, now)
		require.Nil(t, err)
	}
	assert.Equal(t, 8, p.Stats().CacheEntries)

	// The validity period is checked on every hit: the clock passes the
	// certificate's NotAfter while its result is cached.
	_, short := k.root.issue(t, certOpts{cn: "short", notAfter: now.Add(time.Minute)})
	_, err = p.validate([]*x509.Certificate{short}, false, now)
	require.Nil(t, err)
	_, err = p.validate([]*x509.Certificate{short}, false, now.Add(time.Minute+time.Second))
	require.NotNil(t, err)
	assert.Equal(t, ReasonExpired, err.Reason)
}
