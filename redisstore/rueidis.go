package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"
)

// Rueidis returns a Client on c, a rueidis client the application already
// has: a single node, a Cluster (each call goes to its key's node) or
// Sentinel. Its automatic pipelining lets concurrent requests share a
// connection; the Store's timeout bounds each call through its context.
func Rueidis(c rueidis.Client) Client { return rueidisClient{c} }

type rueidisClient struct{ c rueidis.Client }

func (r rueidisClient) EvalSha(ctx context.Context, sha1, key string, args []string) ([2]int64, error) {
	return rueidisReply(r.c.Do(ctx, r.c.B().Evalsha().Sha1(sha1).Numkeys(1).Key(key).Arg(args...).Build()))
}

func (r rueidisClient) Eval(ctx context.Context, script, key string, args []string) ([2]int64, error) {
	return rueidisReply(r.c.Do(ctx, r.c.B().Eval().Script(script).Numkeys(1).Key(key).Arg(args...).Build()))
}

func rueidisReply(res rueidis.RedisResult) ([2]int64, error) {
	v, err := res.ToArray()
	if err != nil {
		return [2]int64{}, err
	}
	if len(v) == 2 {
		x, err1 := v[0].AsInt64()
		y, err2 := v[1].AsInt64()
		if err1 == nil && err2 == nil {
			return [2]int64{x, y}, nil
		}
	}
	return [2]int64{}, fmt.Errorf("windhover/redisstore: unexpected reply of %d elements from the script", len(v))
}
