package metrics

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testcert"
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
		"%s%v: want %v, have %v", name, labels, want, testserver.Later(func() any { return value(t, g, name, labels...) }))
}

// labelString returns name, value pairs as the text format writes a
// series' labels: sorted by name, those with an empty value left out.
func labelString(pairs ...string) string {
	var kept []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			kept = append(kept, fmt.Sprintf("%s=%q", pairs[i], pairs[i+1]))
		}
	}
	sort.Strings(kept)
	return strings.Join(kept, ",")
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

// testCert returns a certificate for 127.0.0.1 and example.com, which a
// pool holding the certificate itself trusts.
func testCert(t testing.TB) tls.Certificate {
	return testcert.NewCA(t, "windhover metrics test CA").Server(t, "example.com").TLS()
}
