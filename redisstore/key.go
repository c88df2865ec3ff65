package redisstore

// DefaultPrefix begins every key the Store writes when Config.Prefix is
// empty.
const DefaultPrefix = "windhover:rate:"

// appendKey appends the Redis key of a client key: the prefix, then the
// client key with every byte outside printable ASCII, and '%', '{' and '}',
// written as %XX. The encoding is one to one, so that two client keys never
// share a bucket, and it leaves no braces from the client key, so that in a
// Redis Cluster no client can pick a hash tag and pile its keys, or others',
// onto one slot: a key's slot is its whole name's (unless the prefix holds a
// hash tag of the user's choosing). The script touches one key, so it needs
// no tag of its own.
func appendKey(dst []byte, prefix, key string) []byte {
	dst = append(dst, prefix...)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < ' ' || c > '~' || c == '%' || c == '{' || c == '}' {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

// redisKey returns the Redis key of a client key. A key needing no escape,
// as an address does, costs one allocation, the concatenation.
func redisKey(prefix, key string) string {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < ' ' || c > '~' || c == '%' || c == '{' || c == '}' {
			return string(appendKey(make([]byte, 0, len(prefix)+len(key)+16), prefix, key))
		}
	}
	return prefix + key
}
