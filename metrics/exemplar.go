package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// observeWithExemplar observes v on o with the exemplar labels l, or without
// an exemplar if l is empty or holds labels Prometheus would refuse: its
// ObserveWithExemplar panics on those, and a request must not.
func observeWithExemplar(o prometheus.Observer, v float64, l prometheus.Labels) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok && len(l) > 0 && validExemplar(l) {
		eo.ObserveWithExemplar(v, l)
		return
	}
	o.Observe(v)
}

// validExemplar reports whether Prometheus accepts l as an exemplar's
// labels: names that are valid and not reserved ("__" prefix), values in
// UTF-8, at most [prometheus.ExemplarMaxRunes] characters in all.
func validExemplar(l prometheus.Labels) bool {
	runes := 0
	for name, value := range l {
		if name == "" || !utf8.ValidString(name) || strings.HasPrefix(name, "__") || !utf8.ValidString(value) {
			return false
		}
		runes += utf8.RuneCountInString(name) + utf8.RuneCountInString(value)
	}
	return runes <= prometheus.ExemplarMaxRunes
}
