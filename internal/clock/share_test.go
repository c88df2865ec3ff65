package clock

import (
	"net/http"
	"testing"
)

type sharing struct {
	http.HandlerFunc
	on bool
}

func (s *sharing) ShareReadings(Trust) { s.on = true }

func TestShare(t *testing.T) {
	s := &sharing{}
	if !Share(s) || !s.on {
		t.Error("Share did not turn sharing on in a handler that can share")
	}
	if Share(http.NotFoundHandler()) {
		t.Error("Share reported a handler that cannot share as sharing")
	}
}

func TestLate(t *testing.T) {
	p := &Readings{Arrived: Nanos(), Returned: Nanos()}
	p.Late()
	if p.Returned != 0 || p.Arrived == 0 {
		t.Errorf("after Late: %+v, want only Returned cleared", p)
	}
	var none *Readings
	none.Late() // no panic
}
