package limits

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// readHops returns every address hops gives before it stops, and whether it
// stopped at the end of the field rather than at an element that is not an
// address.
func readHops(values []string, forwarded bool) (addrs []string, end bool) {
	h := hops{values: values, forwarded: forwarded}
	for {
		a, ok := h.next()
		if !ok {
			break
		}
		addrs = append(addrs, a.String())
	}
	// Tell the end from a bad element by reading again from a copy with
	// one more, valid, element on the left.
	probe := hops{values: append([]string{"192.0.2.250"}, values...), forwarded: forwarded}
	if forwarded {
		probe.values[0] = "for=192.0.2.250"
	}
	for {
		a, ok := probe.next()
		if !ok {
			return addrs, false
		}
		if a == netip.MustParseAddr("192.0.2.250") {
			return addrs, true
		}
	}
}

func TestHopsXForwardedFor(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   []string
		end    bool
	}{
		{nil, nil, true},
		{[]string{""}, nil, true},
		{[]string{"203.0.113.7"}, []string{"203.0.113.7"}, true},
		{[]string{"198.51.100.1, 10.0.0.2"}, []string{"10.0.0.2", "198.51.100.1"}, true},
		{[]string{"198.51.100.1,10.0.0.2 ,\t10.0.0.3"}, []string{"10.0.0.3", "10.0.0.2", "198.51.100.1"}, true},
		{[]string{"1.1.1.1, 10.0.0.5", "203.0.113.9"}, []string{"203.0.113.9", "10.0.0.5", "1.1.1.1"}, true},
		{[]string{"203.0.113.7, , ", ""}, []string{"203.0.113.7"}, true},
		{[]string{"203.0.113.7:5555"}, []string{"203.0.113.7"}, true},
		{[]string{"[2001:db8::1]:443"}, []string{"2001:db8::1"}, true},
		{[]string{"[2001:db8::1]"}, []string{"2001:db8::1"}, true},
		{[]string{"2001:db8::1"}, []string{"2001:db8::1"}, true},
		{[]string{"::ffff:203.0.113.7"}, []string{"203.0.113.7"}, true},
		{[]string{"[::ffff:203.0.113.7]:80"}, []string{"203.0.113.7"}, true},
		{[]string{"garbage, 203.0.113.7"}, []string{"203.0.113.7"}, false},
		{[]string{"203.0.113.7, garbage"}, nil, false},
		{[]string{"unknown"}, nil, false},
		{[]string{"203.0.113.7:"}, nil, false},
		{[]string{"203.0.113.7:65536"}, nil, false},
		{[]string{"203.0.113.7:http"}, nil, false},
		{[]string{"[203.0.113.7]"}, nil, false},
		{[]string{"[2001:db8::1]443"}, nil, false},
		{[]string{"[2001:db8::1"}, nil, false},
		{[]string{"fe80::1%eth0"}, nil, false},
		{[]string{"203.0.113.7 198.51.100.1"}, nil, false},
		{[]string{`"203.0.113.7"`}, nil, false},
		{[]string{"1.2.3.4, \"203.0.113.7"}, nil, false},
	} {
		got, end := readHops(tt.values, false)
		assert.Equal(t, tt.want, got, "%q", tt.values)
		assert.Equal(t, tt.end, end, "%q: stopped at the end", tt.values)
	}
}

func TestHopsForwarded(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   []string
		end    bool
	}{
		{[]string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, []string{"192.0.2.60"}, true},
		{[]string{`For="[2001:db8:cafe::17]:4711"`}, []string{"2001:db8:cafe::17"}, true},
		{[]string{`for=192.0.2.43, for="[2001:db8:cafe::17]"`}, []string{"2001:db8:cafe::17", "192.0.2.43"}, true},
		{[]string{`for="192.0.2.43:80";proto=https`}, []string{"192.0.2.43"}, true},
		{[]string{`for="192.0.2.43:_abc-1.x"`}, []string{"192.0.2.43"}, true},
		{[]string{`proto=https; for=192.0.2.43 ;by="[::1]"`}, []string{"192.0.2.43"}, true},
		{[]string{`for=192.0.2.43;;proto=http`}, []string{"192.0.2.43"}, true},
		{[]string{`for=1.2.3.4`, `for=5.6.7.8`}, []string{"5.6.7.8", "1.2.3.4"}, true},
		{[]string{`by="a,b";for=192.0.2.43`}, []string{"192.0.2.43"}, true},
		// A client's unbalanced quote, left of what its proxy appended,
		// does not hide the proxy's element.
		{[]string{`for="1.2.3.4, for=198.51.100.9`}, []string{"198.51.100.9"}, false},
		{[]string{`for=unknown`}, nil, false},
		{[]string{`for=_hidden`}, nil, false},
		{[]string{`for="_hidden:80"`}, nil, false},
		{[]string{`proto=http`}, nil, false},
		{[]string{`for=1.2.3.4;for=5.6.7.8`}, nil, false},
		{[]string{`for=1.2.3.4:80`}, nil, false},
		{[]string{`for=[2001:db8::1]`}, nil, false},
		{[]string{`for="2001:db8::1"`}, nil, false},
		{[]string{`for="1.2.3.4`}, nil, false},
		{[]string{`for=1.2.3.4"`}, nil, false},
		{[]string{`for="1.2.3\.4"`}, nil, false},
		{[]string{`for`}, nil, false},
		{[]string{`=1.2.3.4`}, nil, false},
		{[]string{`f r=1.2.3.4`}, nil, false},
		{[]string{`for="1.2.3.4:"`}, nil, false},
		{[]string{`for="1.2.3.4:_"`}, nil, false},
		{[]string{`for="1.2.3.4:_a/b"`}, nil, false},
		{[]string{`for=203.0.113.7, for=garbage`}, nil, false},
	} {
		got, end := readHops(tt.values, true)
		assert.Equal(t, tt.want, got, "%q", tt.values)
		assert.Equal(t, tt.end, end, "%q: stopped at the end", tt.values)
	}
}

// referenceXFF reads an X-Forwarded-For field the slow, obvious way, with
// net/netip's own parsers: split the lines at commas, drop empty elements,
// and parse from the right until an element is not an address.
func referenceXFF(values []string) []string {
	var elems []string
	for _, v := range values {
		elems = append(elems, strings.Split(v, ",")...)
	}
	var out []string
	for i := len(elems) - 1; i >= 0; i-- {
		e := strings.Trim(elems[i], " \t")
		if e == "" {
			continue
		}
		var a netip.Addr
		if ap, err := netip.ParseAddrPort(e); err == nil {
			a = ap.Addr()
		} else if b, err := netip.ParseAddr(e); err == nil {
			a = b
		} else if b, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")); err == nil && b.Is6() &&
			strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") {
			a = b
		} else {
			break
		}
		if a.Zone() != "" {
			break
		}
		out = append(out, a.Unmap().String())
	}
	return out
}

func FuzzHopsXForwardedFor(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "198.51.100.1, 10.0.0.2", "203.0.113.7:5555, [2001:db8::1]:443", "2001:db8::1,::ffff:1.2.3.4",
		"garbage, 1.2.3.4", ", ,", "[::1]", "fe80::1%eth0, 1.2.3.4", "1.2.3.4:00080", "1.2.3.4:65536", "[1.2.3.4]:80",
		"\t1.2.3.4 \t,5.6.7.8", "1.2.3.4\n",
	} {
		f.Add(s, "")
		f.Add("10.0.0.1", s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := []string{a, b}
		got, _ := readHops(values, false)
		assert.Equal(t, referenceXFF(values), got, "%q", values)
	})
}

func FuzzHopsForwarded(f *testing.F) {
	for _, s := range []string{
		"for=192.0.2.60;proto=http;by=203.0.113.43", `for="[2001:db8:cafe::17]:4711"`, `for=192.0.2.43, for="[::1]"`,
		`for="1.2.3.4, for=198.51.100.9`, `for=unknown`, `by="a,b";for=1.2.3.4`, `for="a\"b", for=1.2.3.4`,
		`for="\\", for=1.2.3.4`, `for=1.2.3.4;for=5.6.7.8`, `;;, ,for=1.2.3.4;`,
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, extra uint8) {
		// Whatever the client sent on the left, an element a proxy appends
		// on the right is read first, and read right.
		proxy := netip.AddrFrom4([4]byte{198, 51, 100, extra})
		for _, values := range [][]string{{s + ", for=" + proxy.String()}, {s, "for=" + proxy.String()}} {
			got, _ := readHops(values, true)
			if assert.NotEmpty(t, got, "%q", values) {
				assert.Equal(t, proxy.String(), got[0], "%q", values)
			}
		}
		// Every address read is one, and no more are read than there are
		// elements.
		got, _ := readHops([]string{s}, true)
		assert.LessOrEqual(t, len(got), strings.Count(s, ",")+1)
		for _, a := range got {
			addr, err := netip.ParseAddr(a)
			if assert.NoError(t, err) {
				assert.False(t, addr.Is4In6() || addr.Zone() != "", a)
			}
		}
	})
}

func FuzzHopsForwardedRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, uint16(80))
	f.Fuzz(func(t *testing.T, data []byte, port uint16) {
		// Build elements from the data, in every form RFC 7239 allows, and
		// read them back in reverse.
		var elems, want []string
		for i := 0; len(data) >= 5; i++ {
			var a netip.Addr
			if data[0]%2 == 0 || len(data) < 17 {
				a = netip.AddrFrom4([4]byte(data[1:5]))
				data = data[5:]
			} else {
				a = netip.AddrFrom16([16]byte(data[1:17])).Unmap()
				data = data[17:]
			}
			node := a.String()
			if a.Is6() {
				node = "[" + node + "]"
			}
			switch i % 4 {
			case 0:
				if a.Is6() {
					node = `"` + node + `"`
				}
				elems = append(elems, "for="+node)
			case 1:
				elems = append(elems, `for="`+node+":"+strconv.Itoa(int(port))+`";proto=https`)
			case 2:
				elems = append(elems, `by="[::1]:8080"; FOR="`+node+`:_obf"`)
			case 3:
				elems = append(elems, ` proto=http;for="`+node+`" `)
			}
			want = append([]string{a.String()}, want...)
		}
		got, end := readHops([]string{strings.Join(elems, ",")}, true)
		assert.Equal(t, want, got, "%q", elems)
		assert.True(t, end)
	})
}

func TestHopsAllocations(t *testing.T) {
	values := []string{`for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`, "for=198.51.100.1"}
	allocs := testing.AllocsPerRun(100, func() {
		h := hops{values: values, forwarded: true}
		for {
			if _, ok := h.next(); !ok {
				break
			}
		}
	})
	assert.Zero(t, allocs)
}
