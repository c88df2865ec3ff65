package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/windhover/windhover/internal/testserver"
)

type traceKey struct{}

// traceExemplar is an Exemplar hook as one for OpenTelemetry would be: the
// trace id the context carries, if any.
func traceExemplar(ctx context.Context) prometheus.Labels {
	if id, ok := ctx.Value(traceKey{}).(string); ok {
		return prometheus.Labels{"trace_id": id}
	}
	return nil
}

// exemplars returns the exemplar labels (name=value) on the buckets of the
// duration histogram's series.
func exemplars(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			for _, b := range m.GetHistogram().GetBucket() {
				if e := b.GetExemplar(); e != nil {
					var l []string
					for _, lp := range e.GetLabel() {
						l = append(l, lp.GetName()+"="+lp.GetValue())
					}
					out = append(out, strings.Join(l, ","))
				}
			}
		}
	}
	return out
}

// TestExemplar checks that the duration is observed with the exemplar the
// hook returns for the request's context, without one when the hook
// returns none, and without the labels Prometheus refuses (rather than
// panicking, as ObserveWithExemplar does).
func TestExemplar(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace string // "" for none in the context
		want  []string
	}{
		{"traced", "4bf92f3577b34da6a3ce929d0e0e4736", []string{"trace_id=4bf92f3577b34da6a3ce929d0e0e4736"}},
		{"untraced", "", nil},
		{"over 128 characters", strings.Repeat("a", 121), nil},
		{"invalid UTF-8", "\xff", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig
			cfg.Exemplar = traceExemplar
			m, reg := newMetrics(t, cfg)
			r := httptest.NewRequest("GET", "/items/1", nil)
			if tc.trace != "" {
				r = r.WithContext(context.WithValue(r.Context(), traceKey{}, tc.trace))
			}
			m.Handler(routes()).ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, tc.want, exemplars(t, reg))
			assert.Equal(t, 1.0, value(t, reg, "http_server_request_duration_seconds", "http_route", "/items/{id}"))
		})
	}
}

// TestExemplarAllocations checks that no hook, and a hook that returns no
// exemplar, cost no allocation.
func TestExemplarAllocations(t *testing.T) {
	w := testserver.NewNopWriter()
	r := httptest.NewRequest("GET", "/items/42", nil)
	allocs := func(cfg Config) float64 {
		m, err := New(cfg)
		require.NoError(t, err)
		h := m.Handler(app())
		h.ServeHTTP(w, r) // the series is created once
		return testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	}
	none := allocs(Config{})
	assert.Equal(t, none, allocs(Config{Exemplar: traceExemplar}), "a hook that returns nil")
	empty := prometheus.Labels{}
	assert.Equal(t, none, allocs(Config{Exemplar: func(context.Context) prometheus.Labels { return empty }}), "a hook that returns no labels")
}
