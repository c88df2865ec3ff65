package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers m and the collectors cs (those m built: [Metrics.Limits]
// and the others) with reg, and returns the errors of every registration
// that failed, joined. Unlike reg.Register, it says what to set when a
// registration conflicts with families already in reg: families of one name
// must have the same label names throughout a registry, so two Metrics in
// one registry (one a server, say) need Config.ConstLabels with the same
// label names and values of their own, or a Config.Namespace of their own;
// without, the second would be refused, or, with the same ConstLabels, taken
// for the first (prometheus.AlreadyRegisteredError, which callers often
// ignore, leaving the second's series unscraped). The errors wrap the
// registry's, so errors.As still finds a prometheus.AlreadyRegisteredError.
// Registering a collector that is already registered, the very same, is not
// an error.
func (m *Metrics) Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	var errs []error
	for _, c := range append([]prometheus.Collector{m}, cs...) {
		err := reg.Register(c)
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok && are.ExistingCollector == c {
			continue
		}
		if err != nil {
			errs = append(errs, m.conflict(c, err))
		}
	}
	return errors.Join(errs...)
}

// conflict explains err, the registry's refusal of c, one of m's
// collectors.
func (m *Metrics) conflict(c prometheus.Collector, err error) error {
	what := "a policy collector"
	if c == prometheus.Collector(m) {
		what = "the Metrics"
	}
	if pc, ok := c.(interface{ nameError() error }); ok && pc.nameError() != nil {
		return err // says already which name to give
	}
	return fmt.Errorf("windhover/metrics: registering %s: %w; the registry already has families of the same names "+
		"(another Metrics', or another exporter's): every Metrics in one registry needs Config.ConstLabels with the same label names "+
		"and values of its own, such as {\"server\": \"admin\"}, or a Config.Namespace of its own (this one has ConstLabels %s and Namespace %q)",
		what, err, labelsString(m.s.constLabels), m.s.namespace)
}

// labelsString writes l as {name="value", ...}, sorted by name.
func labelsString(l prometheus.Labels) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", name, l[name])
	}
	b.WriteByte('}')
	return b.String()
}
