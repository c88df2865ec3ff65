package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/limits"
)

// TestTwoMetricsInOneRegistry registers two Metrics, each with a Limiter's
// collector, in one registry: with ConstLabels of the same names and values
// of their own, or Namespaces of their own, they sit side by side, distinct
// series; otherwise Register refuses the second with an error that says
// what to set, wrapping the registry's.
func TestTwoMetricsInOneRegistry(t *testing.T) {
	server := func(v string) prometheus.Labels { return prometheus.Labels{"server": v} }
	for _, tc := range []struct {
		name       string
		first, two Config
		ok         bool
	}{
		{"distinct ConstLabels values", Config{ConstLabels: server("a")}, Config{ConstLabels: server("b")}, true},
		{"distinct Namespaces", Config{}, Config{Namespace: "admin"}, true},
		{"neither has ConstLabels", Config{}, Config{}, false},
		{"only the second has ConstLabels", Config{}, Config{ConstLabels: server("b")}, false},
		{"only the first has ConstLabels", Config{ConstLabels: server("a")}, Config{}, false},
		{"ConstLabels of other names", Config{ConstLabels: server("a")}, Config{ConstLabels: prometheus.Labels{"zone": "b"}}, false},
		{"the same ConstLabels", Config{ConstLabels: server("a")}, Config{ConstLabels: server("a")}, false},
		{"one with body sizes", Config{}, Config{RequestSizes: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			first, err := New(tc.first)
			require.NoError(t, err)
			second, err := New(tc.two)
			require.NoError(t, err)
			require.NoError(t, first.Register(reg, first.Limits(limits.MaxRequestBodySize(1), "")))
			err = second.Register(reg, second.Limits(limits.MaxRequestBodySize(2), ""))
			if tc.ok {
				require.NoError(t, err)
				mfs, err := reg.Gather()
				require.NoError(t, err)
				n := 0
				for _, mf := range mfs {
					if strings.HasSuffix(mf.GetName(), "windhover_rejections_total") {
						n += len(mf.Metric)
					}
				}
				assert.Equal(t, 2*len(limitsReasons(t)), n, "each Limiter's series, distinct")
				return
			}
			require.Error(t, err)
			assert.ErrorContains(t, err, "windhover/metrics: registering the Metrics: ")
			assert.ErrorContains(t, err, "registering a policy collector: ")
			assert.ErrorContains(t, err, "every Metrics in one registry needs Config.ConstLabels with the same label names and values of its own")
			assert.ErrorContains(t, err, "or a Config.Namespace of its own")
			assert.ErrorContains(t, err, "(this one has ConstLabels "+labelsString(tc.two.ConstLabels)+` and Namespace ""`)
		})
	}
}

// limitsReasons returns the reasons of a Limiter's series in
// windhover_rejections_total.
func limitsReasons(t *testing.T) []string {
	t.Helper()
	m, reg := newMetrics(t, Config{})
	require.NoError(t, reg.Register(m.Limits(limits.MaxRequestBodySize(1), "")))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		if mf.GetName() == "windhover_rejections_total" {
			for _, s := range mf.Metric {
				out = append(out, s.String())
			}
		}
	}
	return out
}

// TestRegisterAgain checks that registering m and its collectors again is
// not an error, and that a second policy of one kind and name keeps the
// error that names it.
func TestRegisterAgain(t *testing.T) {
	m, err := New(Config{})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	lim := m.Limits(limits.MaxRequestBodySize(1), "")
	require.NoError(t, m.Register(reg, lim))
	require.NoError(t, m.Register(reg, lim))
	err = m.Register(reg, m.Limits(limits.MaxRequestBodySize(2), ""))
	require.ErrorContains(t, err, `a second limits policy named "default"`)
	assert.NotContains(t, err.Error(), "Config.ConstLabels")
	var already prometheus.AlreadyRegisteredError
	other, err := New(Config{})
	require.NoError(t, err)
	require.ErrorAs(t, other.Register(reg), &already, "the registry's error is wrapped")
}
