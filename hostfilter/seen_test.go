package hostfilter

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// TestSeenHostsKeepVerdicts checks that the hosts a Filter remembers change
// no verdict: a host is judged the same the first time and every time after,
// whatever was accepted between, and only accepted hosts are remembered.
func TestSeenHostsKeepVerdicts(t *testing.T) {
	f, err := New(Config{AllowedHosts: []string{"example.com", "*.example.net", "10.0.0.0/8"}, RejectEmptyHost: true})
	if err != nil {
		t.Fatal(err)
	}
	hosts := []struct {
		host string
		want Reason
	}{
		{"example.com", accepted},
		{"EXAMPLE.com:8443", accepted},
		{"a.example.net", accepted},
		{"b.example.net.", accepted},
		{"10.1.2.3", accepted},
		{"10.1.2.3:80", accepted},
		{"example.org", ReasonHostNotAllowed},
		{"", ReasonEmptyHost},
		{"example.com:x", ReasonMalformedHost},
		{"11.1.2.3", ReasonHostNotAllowed},
	}
	// More accepted hosts than the Filter remembers, in turn, so that each
	// is judged anew, remembered, and forgotten again.
	for round := range 3 {
		for _, h := range hosts {
			if got := f.verdict(h.host); got != h.want {
				t.Errorf("round %d: verdict(%q) = %v, want %v", round, h.host, got, h.want)
			}
			if got := f.verdict(h.host); got != h.want {
				t.Errorf("round %d, again: verdict(%q) = %v, want %v", round, h.host, got, h.want)
			}
		}
	}
	for i := range f.seen {
		p := f.seen[i].Load()
		if p == nil {
			t.Fatalf("slot %d is empty after %d accepted hosts", i, 6*3)
		}
		if f.m.match(*p) != accepted {
			t.Errorf("slot %d remembers %q, which the matcher refuses", i, *p)
		}
	}
	if got := f.Stats().Rejected[ReasonHostNotAllowed]; got != 0 {
		t.Errorf("verdict counted %d refusals; only Check counts", got)
	}
	// A refused host stays refused, and counted, however often it comes.
	for range 3 {
		if err := f.Check(requestTo("example.org")); err == nil {
			t.Fatal("example.org passed")
		}
	}
	if got := f.Stats().Rejected[ReasonHostNotAllowed]; got != 3 {
		t.Errorf("Rejected[HostNotAllowed] = %d, want 3", got)
	}
}

// TestSeenHostsConcurrent judges allowed and refused hosts from several
// goroutines at once, more accepted ones than the Filter remembers, and
// checks every verdict against the matcher's (run it with -race).
func TestSeenHostsConcurrent(t *testing.T) {
	f := Allow("*.example.com")
	var hosts []string
	for i := range 2 * seenHosts {
		hosts = append(hosts, fmt.Sprintf("h%d.example.com", i), fmt.Sprintf("h%d.example.org", i))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				h := hosts[(i*(g+1))%len(hosts)]
				if got, want := f.Allows(h), f.m.match(h) == accepted; got != want {
					t.Errorf("Allows(%q) = %v, want %v", h, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSeenHostsAllocs checks that judging a remembered host allocates
// nothing.
func TestSeenHostsAllocs(t *testing.T) {
	f := Allow("*")
	if got := f.verdict("example.com:8443"); got != accepted {
		t.Fatalf("verdict = %v", got)
	}
	if a := testing.AllocsPerRun(100, func() { f.verdict("example.com:8443") }); a != 0 {
		t.Errorf("a remembered host allocates %.0f", a)
	}
}

// TestSeenHostsAreCopies checks that a remembered host is a copy: over
// HTTP/1 an absolute-form target's authority becomes r.Host, a slice of a
// request line of up to MaxHeaderBytes, which the Filter must not keep
// alive.
func TestSeenHostsAreCopies(t *testing.T) {
	f := Allow("example.com")
	raw := "GET http://EXAMPLE.com:80/" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: ignored\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReaderSize(strings.NewReader(raw), 1<<17))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(r); err != nil {
		t.Fatal(err)
	}
	line := uintptr(unsafe.Pointer(unsafe.StringData(r.RequestURI)))
	found := false
	for i := range f.seen {
		p := f.seen[i].Load()
		if p == nil || *p != r.Host {
			continue
		}
		found = true
		if host := uintptr(unsafe.Pointer(unsafe.StringData(*p))); host >= line && host < line+uintptr(len(r.RequestURI)) {
			t.Errorf("the remembered host %q shares the memory of the %d-byte request target", *p, len(r.RequestURI))
		}
	}
	if !found {
		t.Fatalf("%q was not remembered", r.Host)
	}
}
