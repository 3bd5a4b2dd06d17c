package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// echo answers each operation with its own holder, after a pause long
// enough for callers to queue, and records batch sizes and overlap.
type echo struct {
	mu      sync.Mutex
	sizes   []int
	flying  atomic.Int32
	maxSeen atomic.Int32
	fail    atomic.Bool
}

func (e *echo) send(_ context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
	n := e.flying.Add(1)
	defer e.flying.Add(-1)
	for {
		m := e.maxSeen.Load()
		if n <= m || e.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	e.mu.Lock()
	e.sizes = append(e.sizes, len(ops))
	e.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	if e.fail.Load() {
		return nil, errors.New("connection reset")
	}
	res := make([]shardapi.BatchResult, len(ops))
	for i, op := range ops {
		b, _ := json.Marshal(op.Holder)
		res[i] = shardapi.BatchResult{Status: 201, Body: b}
	}
	return res, nil
}

func TestCoalescerEachCallerItsOwnResult(t *testing.T) {
	e := &echo{}
	c := NewCoalescer(e.send, 16, 2)
	const callers = 200
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("buyer-%d", i)
			r, err := c.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchHold, Holder: want})
			if err != nil || r.Status != 201 || string(r.Body) != `"`+want+`"` {
				errs <- fmt.Errorf("caller %s got %d %s, %v", want, r.Status, r.Body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total, batched := 0, false
	for _, n := range e.sizes {
		total += n
		if n > 16 {
			t.Errorf("a batch of %d operations, bound 16", n)
		}
		batched = batched || n > 1
	}
	if total != callers {
		t.Errorf("%d operations sent for %d callers", total, callers)
	}
	if !batched {
		t.Errorf("no batch carried more than one operation: %v", e.sizes)
	}
	if e.maxSeen.Load() > 2 {
		t.Errorf("%d batches in flight at once, bound 2", e.maxSeen.Load())
	}
}

func TestCoalescerErrorReachesEveryCallerOfTheBatch(t *testing.T) {
	e := &echo{}
	e.fail.Store(true)
	c := NewCoalescer(e.send, 8, 1)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchRelease, Hold: "h1"}); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 20 {
		t.Fatalf("%d of 20 callers saw the failed send", failed.Load())
	}
	// The coalescer is usable after failures: nothing stays in flight.
	e.fail.Store(false)
	if r, err := c.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchHold, Holder: "after"}); err != nil || string(r.Body) != `"after"` {
		t.Fatalf("after failures: %s %v", r.Body, err)
	}
}

func TestCoalescerWrongResultCountIsAnError(t *testing.T) {
	c := NewCoalescer(func(context.Context, []shardapi.BatchOp) ([]shardapi.BatchResult, error) { return nil, nil }, 8, 1)
	if _, err := c.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchGet, Hold: "h1"}); err == nil {
		t.Fatal("a batch answered with no results gave no error")
	}
}

func TestCoalescerCallerContextEnds(t *testing.T) {
	release, flying := make(chan struct{}), make(chan struct{}, 1)
	c := NewCoalescer(func(_ context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
		flying <- struct{}{}
		<-release
		return make([]shardapi.BatchResult, len(ops)), nil
	}, 8, 1)
	go c.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchGet, Hold: "h1"}) // holds the only flight
	<-flying
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, shardapi.BatchOp{Op: shardapi.BatchGet, Hold: "h2"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	close(release)
}
