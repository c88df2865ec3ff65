package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// GoRedis returns a Client on c, a go-redis client the application already
// has: a *redis.Client, *redis.ClusterClient, *redis.Ring or any
// redis.UniversalClient. Its own timeouts and pool apply within the Store's.
func GoRedis(c redis.Scripter) Client { return goRedis{c} }

type goRedis struct{ c redis.Scripter }

func (g goRedis) EvalSha(ctx context.Context, sha1, key string, args []string) ([2]int64, error) {
	return goRedisReply(g.c.EvalSha(ctx, sha1, []string{key}, args[0], args[1], args[2]))
}

func (g goRedis) Eval(ctx context.Context, script, key string, args []string) ([2]int64, error) {
	return goRedisReply(g.c.Eval(ctx, script, []string{key}, args[0], args[1], args[2]))
}

func goRedisReply(cmd *redis.Cmd) ([2]int64, error) {
	v, err := cmd.Result()
	if err != nil {
		return [2]int64{}, err
	}
	if a, ok := v.([]any); ok && len(a) == 2 {
		x, ok1 := a[0].(int64)
		y, ok2 := a[1].(int64)
		if ok1 && ok2 {
			return [2]int64{x, y}, nil
		}
	}
	return [2]int64{}, fmt.Errorf("windhover/redisstore: unexpected reply %v from the script", v)
}
