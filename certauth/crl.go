package certauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// crlStore holds the revocation lists of Config.CRLFiles and reloads them.
type crlStore struct {
	files        []string
	allowUnknown bool
	interval     time.Duration // negative: only Reload re-reads
	set          atomic.Pointer[crlSet]
	nextCheck    atomic.Int64 // unix nanoseconds of the next look at the files
	mu           sync.Mutex   // one reload at a time
	reloads      atomic.Uint64
	failures     atomic.Uint64
}

// crlSet is one reading of every file. It is immutable but for the memo of
// signatures checked.
type crlSet struct {
	gen      uint64
	byIssuer map[string][]*crl // by the issuer's raw subject
	stamps   []fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

type crl struct {
	list    *x509.RevocationList
	revoked map[string]struct{} // serial numbers in decimal

	mu     sync.Mutex
	signed map[[sha256.Size]byte]bool // issuer fingerprint: does its signature verify?
}

func newCRLStore(cfg *Config) (*crlStore, error) {
	s := &crlStore{files: cfg.CRLFiles, allowUnknown: cfg.AllowUnknownRevocation, interval: cfg.CRLCheckInterval}
	if s.interval == 0 {
		s.interval = DefaultCRLCheckInterval
	}
	set, err := s.read(0)
	if err != nil {
		return nil, fmt.Errorf("windhover/certauth: Config.CRLFiles: %w", err)
	}
	s.set.Store(set)
	return s, nil
}

// read reads and parses every file into a set of generation gen.
func (s *crlStore) read(gen uint64) (*crlSet, error) {
	set := &crlSet{gen: gen, byIssuer: make(map[string][]*crl)}
	for _, name := range s.files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		data, err := readAll(f, fi.Size())
		f.Close()
		if err != nil {
			return nil, err
		}
		lists, err := parseCRLs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, l := range lists {
			set.byIssuer[string(l.list.RawIssuer)] = append(set.byIssuer[string(l.list.RawIssuer)], l)
		}
		set.stamps = append(set.stamps, fileStamp{mod: fi.ModTime(), size: fi.Size()})
	}
	return set, nil
}

func readAll(f *os.File, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(size) + 512)
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// parseCRLs parses PEM "X509 CRL" blocks, or one DER list.
func parseCRLs(data []byte) ([]*crl, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		l, err := newCRL(data)
		if err != nil {
			return nil, err
		}
		return []*crl{l}, nil
	}
	var lists []*crl
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %q is not an X509 CRL", block.Type)
		}
		l, err := newCRL(block.Bytes)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	if len(lists) == 0 {
		return nil, errors.New("no CRL in the file")
	}
	return lists, nil
}

func newCRL(der []byte) (*crl, error) {
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	l := &crl{list: list, revoked: make(map[string]struct{}, len(list.RevokedCertificateEntries)), signed: make(map[[sha256.Size]byte]bool)}
	for _, e := range list.RevokedCertificateEntries {
		l.revoked[e.SerialNumber.String()] = struct{}{}
	}
	return l, nil
}

// signedBy reports whether issuer's key signed l, remembering the answer.
func (l *crl) signedBy(issuer *x509.Certificate) bool {
	fp := sha256.Sum256(issuer.Raw)
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, seen := l.signed[fp]
	if !seen {
		ok = l.list.CheckSignatureFrom(issuer) == nil
		l.signed[fp] = ok
	}
	return ok
}

// check looks up every certificate of chain but its root in the CRLs of its
// issuer. It returns the reason for a refusal, and otherwise when the answer
// may change: the earliest NextUpdate of the lists it relied on (zero for
// none).
func (s *crlStore) check(chain []*x509.Certificate, now time.Time) (reason Reason, refused bool, until time.Time) {
	set := s.set.Load()
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		serial := cert.SerialNumber.String()
		current := false
		for _, l := range set.byIssuer[string(cert.RawIssuer)] {
			if !l.signedBy(issuer) {
				continue
			}
			if _, ok := l.revoked[serial]; ok {
				return ReasonRevoked, true, time.Time{}
			}
			if next := l.list.NextUpdate; next.IsZero() || now.Before(next) {
				current = true
				if !next.IsZero() && (until.IsZero() || next.Before(until)) {
					until = next
				}
			}
		}
		if !current && !s.allowUnknown {
			return ReasonRevocationUnknown, true, time.Time{}
		}
	}
	return 0, false, until
}

// generation is the number of the set in use; results validated against an
// older one are stale.
func (s *crlStore) generation() uint64 { return s.set.Load().gen }

// maybeReload re-reads the files if the check interval has passed and one of
// them changed. Only one caller looks; the others go on with the set they have.
func (s *crlStore) maybeReload(now time.Time) {
	next := s.nextCheck.Load()
	if s.interval < 0 || now.UnixNano() < next || !s.nextCheck.CompareAndSwap(next, now.Add(s.interval).UnixNano()) {
		return
	}
	if !s.changed() {
		return
	}
	_ = s.reload() // counted; the lists in force stay
}

func (s *crlStore) changed() bool {
	stamps := s.set.Load().stamps
	for i, name := range s.files {
		fi, err := os.Stat(name)
		if err != nil || !fi.ModTime().Equal(stamps[i].mod) || fi.Size() != stamps[i].size {
			return true
		}
	}
	return false
}

// reload reads every file; on success the new set replaces the old one,
// otherwise the old one stays. Either way it is counted.
func (s *crlStore) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.read(s.set.Load().gen + 1)
	if err != nil {
		s.failures.Add(1)
		return err
	}
	s.set.Store(set)
	s.reloads.Add(1)
	return nil
}
