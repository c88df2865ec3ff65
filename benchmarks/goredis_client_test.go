package benchmarks

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/windhover/windhover/redisstore"
)

// goRedisClient is a redisstore.Client on a go-redis client (a
// *redis.Client, *redis.ClusterClient, *redis.Ring or any
// redis.UniversalClient): the arm redisstore's own, on rueidis, was chosen
// against, and the adapter an application on go-redis would write.
func goRedisClient(c redis.Scripter) redisstore.Client { return goRedis{c} }

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
	return [2]int64{}, fmt.Errorf("benchmarks: unexpected reply %v from the script", v)
}
