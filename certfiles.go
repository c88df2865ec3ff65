package windhover

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CertificateFiles names a certificate chain and its private key, PEM files,
// as Kestrel's Certificate section does with Path and KeyPath.
type CertificateFiles struct {
	CertFile string
	KeyFile  string
}

// certCheckInterval is how often a handshake looks at the certificate
// files: at most once a second, by one handshake, which does not wait for
// the others.
const certCheckInterval = time.Second

// certFile is a certificate read from its files, read again when they
// change: a new modification time, size or file (a rename over it, or the
// symlink swap with which Kubernetes updates a mounted secret, since the
// files are looked at through their symlinks). A change that does not load
// (a key written after its certificate, say) keeps the certificate being
// served and is tried again at the next check.
type certFile struct {
	files   CertificateFiles
	cert    atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // unix ns of the last look at the files
	mu      sync.Mutex   // one reload at a time
	stamps  [2]os.FileInfo
	reloads atomic.Uint64
	failed  atomic.Uint64
	lastErr atomic.Pointer[error]
}

func loadCertFile(f CertificateFiles) (*certFile, error) {
	c := &certFile{files: f}
	if err := c.reload(); err != nil {
		return nil, err
	}
	c.checked.Store(time.Now().UnixNano())
	return c, nil
}

// reload reads the files if they changed since they were last read.
func (c *certFile) reload() error {
	var now [2]os.FileInfo
	for i, name := range []string{c.files.CertFile, c.files.KeyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		now[i] = fi
	}
	if c.stamps[0] != nil && same(c.stamps[0], now[0]) && same(c.stamps[1], now[1]) {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.files.CertFile, c.files.KeyFile)
	if err != nil {
		return fmt.Errorf("certificate %s, key %s: %w", c.files.CertFile, c.files.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return err
		}
	}
	c.stamps = now
	if c.cert.Swap(&cert) != nil {
		c.reloads.Add(1)
	}
	return nil
}

// same reports whether a and b are the same file, unchanged.
func same(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// get returns the certificate, first reading the files again if they
// changed and no handshake looked at them within certCheckInterval.
func (c *certFile) get() *tls.Certificate {
	now := time.Now().UnixNano()
	if last := c.checked.Load(); now-last >= int64(certCheckInterval) && c.checked.CompareAndSwap(last, now) && c.mu.TryLock() {
		if err := c.reload(); err != nil {
			c.failed.Add(1)
			c.lastErr.Store(&err)
		} else {
			c.lastErr.Store(nil)
		}
		c.mu.Unlock()
	}
	return c.cert.Load()
}

// certificates serves the certificate of each server name (SNI), with
// Kestrel's precedence among Sni keys: the exact name, then the longest
// wildcard ("*.example.com" for any subdomain), then "*"; then the
// certificate of the endpoint the connection came in on; then the default.
type certificates struct {
	def    *certFile
	byName map[string]*certFile
	// byEndpoint is the certificate of each endpoint that has its own, by
	// its index in Config.Endpoints; byAddr the same by the address of
	// each listener Listen opened for them.
	byEndpoint map[int]*certFile
	byAddr     atomic.Pointer[map[string]*certFile]
}

func loadCertificates(def CertificateFiles, sni map[string]CertificateFiles, eps []Endpoint) (*certificates, error) {
	cs := &certificates{byName: make(map[string]*certFile, len(sni)), byEndpoint: map[int]*certFile{}}
	var errs []error
	if def != (CertificateFiles{}) {
		c, err := loadCertFile(def)
		errs = append(errs, err)
		cs.def = c
	}
	for i, ep := range eps {
		if ep.Certificate == (CertificateFiles{}) {
			continue
		}
		c, err := loadCertFile(ep.Certificate)
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint %s: %w", ep.label(i), err))
			continue
		}
		cs.byEndpoint[i] = c
	}
	for name, f := range sni {
		c, err := loadCertFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("server name %s: %w", name, err))
			continue
		}
		cs.byName[strings.ToLower(strings.TrimSuffix(name, "."))] = c
	}
	return cs, errors.Join(errs...)
}

// bind records the address of a listener opened for endpoint i, so that
// the connections it accepts get the endpoint's certificate. Listen calls
// it before any connection is served.
func (cs *certificates) bind(i int, addr net.Addr) {
	c, ok := cs.byEndpoint[i]
	if !ok {
		return
	}
	m := map[string]*certFile{}
	if old := cs.byAddr.Load(); old != nil {
		maps.Copy(m, *old)
	}
	m[addr.String()] = c
	cs.byAddr.Store(&m)
}

// getCertificate is tls.Config.GetCertificate.
func (cs *certificates) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := cs.lookup(strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))); c != nil {
		return c.get(), nil
	}
	if m := cs.byAddr.Load(); m != nil && hello.Conn != nil {
		if c, ok := (*m)[hello.Conn.LocalAddr().String()]; ok {
			return c.get(), nil
		}
	}
	if cs.def != nil {
		return cs.def.get(), nil
	}
	return nil, fmt.Errorf("windhover: no certificate for server name %q", hello.ServerName)
}

// lookup returns the certificate of a server name among the Sni ones, or
// nil.
func (cs *certificates) lookup(name string) *certFile {
	if c, ok := cs.byName[name]; ok && name != "" {
		return c
	}
	for rest := name; ; {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if c, ok := cs.byName["*."+rest]; ok {
			return c
		}
	}
	return cs.byName["*"]
}

// CertificateStats counts the reloads of certificates read from files.
type CertificateStats struct {
	// Reloads counts certificates read again after their files changed.
	Reloads uint64
	// ReloadErrors counts changes that did not load: the certificate
	// served before is kept, and the files are tried again a second later.
	ReloadErrors uint64
	// LastError is the last reload's error, or nil.
	LastError error
}

func (cs *certificates) stats() CertificateStats {
	var st CertificateStats
	all := make([]*certFile, 0, len(cs.byName)+len(cs.byEndpoint)+1)
	if cs.def != nil {
		all = append(all, cs.def)
	}
	for _, c := range cs.byName {
		all = append(all, c)
	}
	for _, c := range cs.byEndpoint {
		all = append(all, c)
	}
	for _, c := range all {
		st.Reloads += c.reloads.Load()
		st.ReloadErrors += c.failed.Load()
		if p := c.lastErr.Load(); p != nil {
			st.LastError = *p
		}
	}
	return st
}
