package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/redis/rueidis"

	"github.com/windhover/windhover/limits"
	"github.com/windhover/windhover/redisstore"
)

// A rate limit shared by every instance through Redis. It needs a live
// Redis, so it is compiled but not run.
func Example() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := redisstore.New(redisstore.Rueidis(client), redisstore.Config{
		Mode:      redisstore.Fallback, // the default: a local bucket while Redis is away
		Instances: 3,                   // each keeps a third of the rate then
	})
	if err != nil {
		log.Fatal(err)
	}
	rl, err := limits.NewRateLimiter(limits.RateConfig{Rate: 100, Burst: 20, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	log.Fatal(http.ListenAndServe(":8080", rl.Handler(mux)))
}

// down is a Client whose Redis refuses every connection.
type down struct{}

func (down) EvalSha(context.Context, string, string, []string) ([2]int64, error) {
	return [2]int64{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
}

func (down) Eval(context.Context, string, string, []string) ([2]int64, error) {
	return down{}.EvalSha(context.Background(), "", "", nil)
}

// What each Mode answers while Redis is down: a local bucket of the
// instance's share (here half of a burst of 4), every request, or 503.
func Example_modes() {
	for _, mode := range []redisstore.Mode{redisstore.Fallback, redisstore.FailOpen, redisstore.FailClosed} {
		store, err := redisstore.New(down{}, redisstore.Config{Mode: mode, Instances: 2})
		if err != nil {
			log.Fatal(err)
		}
		rl, err := limits.NewRateLimiter(limits.RateConfig{Rate: 1, Burst: 4, Store: store})
		if err != nil {
			log.Fatal(err)
		}
		h := rl.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		fmt.Print(mode, ":")
		for range 4 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			fmt.Print(" ", w.Code)
		}
		st := store.Stats()
		fmt.Printf("; failures %d, skipped %d\n", st.FailuresTotal(), st.Skipped)
	}
	// Output:
	// fallback: 200 200 429 429; failures 1, skipped 3
	// fail_open: 200 200 200 200; failures 1, skipped 3
	// fail_closed: 503 503 503 503; failures 1, skipped 3
}
