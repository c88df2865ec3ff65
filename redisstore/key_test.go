package redisstore

import (
	"strconv"
	"strings"
	"testing"
)

// decodeKey undoes appendKey after the prefix, reporting false for a string
// appendKey cannot have written.
func decodeKey(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || strings.IndexByte(hexDigits, s[i+1]) < 0 || strings.IndexByte(hexDigits, s[i+2]) < 0 {
				return "", false
			}
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		case c < ' ' || c > '~' || c == '{' || c == '}':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func TestRedisKey(t *testing.T) {
	for key, want := range map[string]string{
		"192.0.2.1":          DefaultPrefix + "192.0.2.1",
		"2001:db8::/64":      DefaultPrefix + "2001:db8::/64",
		"":                   DefaultPrefix,
		"{user}":             DefaultPrefix + "%7Buser%7D",
		"100%":               DefaultPrefix + "100%25",
		"a b\r\n\x00\xff":    DefaultPrefix + "a b%0D%0A%00%FF",
		"ключ":               DefaultPrefix + "%D0%BA%D0%BB%D1%8E%D1%87",
		"api:key/with~tilde": DefaultPrefix + "api:key/with~tilde",
	} {
		if got := redisKey(DefaultPrefix, key); got != want {
			t.Errorf("redisKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// FuzzRedisKey: the encoding is one to one (it decodes back), leaves no
// brace a client could make a Cluster hash tag of, writes printable ASCII
// only, and both ways of writing it agree.
func FuzzRedisKey(f *testing.F) {
	for _, s := range []string{"", "192.0.2.1", "2001:db8::/64", "{tag}", "%", "%25", "a\x00b", "\xff\xfe", "ключ", "}{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		const prefix = "p:"
		got := redisKey(prefix, key)
		if string(appendKey(nil, prefix, key)) != got {
			t.Fatalf("appendKey and redisKey disagree on %q", key)
		}
		rest, ok := strings.CutPrefix(got, prefix)
		if !ok {
			t.Fatalf("%q lost its prefix", got)
		}
		if strings.ContainsAny(rest, "{}") {
			t.Fatalf("%q keeps a brace", got)
		}
		back, ok := decodeKey(rest)
		if !ok || back != key {
			t.Fatalf("%q decodes to %q, %v; want %q", got, back, ok, key)
		}
	})
}
