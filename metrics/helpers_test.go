package metrics

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

// testConfig has one bucket per histogram, far above anything a test takes,
// so that bucket counts do not depend on the machine's speed.
var testConfig = Config{
	RequestSizes:                true,
	RequestDurationBuckets:      []float64{60},
	SizeBuckets:                 []float64{1000},
	ConnectionDurationBuckets:   []float64{600},
	TLSHandshakeDurationBuckets: []float64{60},
}

func newMetrics(t testing.TB, cfg Config) (*Metrics, *prometheus.Registry) {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	return m, reg
}

// timeless gathers from g with the sums of the *_seconds histograms set to
// zero: they are the one part of a scrape a test cannot predict.
func timeless(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			if !strings.HasSuffix(mf.GetName(), "_seconds") {
				continue
			}
			for _, m := range mf.Metric {
				if h := m.GetHistogram(); h != nil {
					zero := 0.0
					h.SampleSum = &zero
				}
			}
		}
		return mfs, err
	})
}

// expect compares the named families in g, timeless, with want, the text
// format without HELP and TYPE lines: they are added from g.
func expect(t testing.TB, g prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var header strings.Builder
	for _, n := range names {
		for _, mf := range mfs {
			if mf.GetName() == n {
				header.WriteString("# HELP " + n + " " + mf.GetHelp() + "\n# TYPE " + n + " " + strings.ToLower(mf.GetType().String()) + "\n")
			}
		}
		// A family g lacks is left untyped, and so fails the comparison.
		header.WriteString(section(want, n))
	}
	require.NoError(t, testutil.GatherAndCompare(timeless(g), strings.NewReader(header.String()), names...))
}

// section returns the lines of want that belong to the family name.
func section(want, name string) string {
	var b strings.Builder
	for line := range strings.Lines(want) {
		line = strings.TrimLeft(line, " \t")
		base, _, _ := strings.Cut(line, "{")
		base, _, _ = strings.Cut(base, " ")
		for _, suffix := range []string{"_bucket", "_sum", "_count", ""} {
			if base == name+suffix {
				b.WriteString(line)
				break
			}
		}
	}
	return b.String()
}

// value returns the value of the series of name whose labels include the
// given ones (name, value pairs): a counter's or gauge's value, a
// histogram's count. It returns -1 if there is no such series.
func value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			have := map[string]string{}
			for _, l := range m.Label {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}

// eventually waits for the series to reach want.
func eventually(t testing.TB, g prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	testserver.Eventually(t, func() bool { return value(t, g, name, labels...) == want },
		"%s%v: want %v, have %v", name, labels, want, value(t, g, name, labels...))
}

// lint fails the test if c has lint problems.
func lint(t testing.TB, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// names returns the sorted names of the families g has.
func names(t testing.TB, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		out = append(out, mf.GetName())
	}
	sort.Strings(out)
	return out
}

// serve starts h behind m (Handler and Apply) speaking p.
func serve(t testing.TB, m *Metrics, h http.Handler, p testserver.Proto, setup ...testserver.Setup) *testserver.Server {
	t.Helper()
	apply := func(ts *httptest.Server) { m.Apply(ts.Config) }
	return testserver.Start(t, m.Handler(h), p, append([]testserver.Setup{apply}, setup...)...)
}

// testCert returns a self-signed certificate for 127.0.0.1 and example.com.
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "windhover test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writeCert writes cert and its key as PEM files and returns their paths.
func writeCert(t testing.TB, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}
