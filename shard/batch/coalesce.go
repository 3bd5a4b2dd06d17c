package batch

import (
	"context"
	"fmt"
	"sync"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// SendFunc sends one batch and returns one result per operation, in order.
// An error means no operation of the batch has a known answer (the caller
// may retry each with its own Idempotency-Key). It must bound its own time:
// it runs for every caller of the batch, not for one.
type SendFunc func(ctx context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error)

// Coalescer gathers concurrent operations into batches. At most maxFlights
// batches are in flight at once; an operation that arrives while they all
// are joins the next batch, which leaves as soon as a flight returns (no
// timer: under light load an operation leaves at once, alone; under heavy
// load batches grow to what queued during one round trip, up to maxOps).
// Each caller gets its own operation's result.
//
// No goroutine runs while nothing is queued: the caller that finds a free
// flight sends the batch itself, and a returning flight starts the next
// queued batch on a goroutine of its own.
type Coalescer struct {
	send       SendFunc
	maxOps     int
	maxFlights int

	mu      sync.Mutex
	flights int
	queue   []*pending // batches waiting for a flight, oldest first
	// lastOps is the size of the batch that left last: a new batch's ops
	// start with that capacity (batches that follow each other are about
	// as large), so appending does not grow them by doubling (about 8% of
	// the batching load generator's CPU in its profile).
	lastOps int
}

type pending struct {
	ops  []shardapi.BatchOp
	res  []shardapi.BatchResult
	err  error
	done chan struct{}
}

// NewCoalescer returns a Coalescer sending through send. maxOps (at most
// shardapi.MaxBatchOps) bounds a batch; maxFlights the batches in flight at once.
func NewCoalescer(send SendFunc, maxOps, maxFlights int) *Coalescer {
	return &Coalescer{send: send, maxOps: min(max(maxOps, 1), shardapi.MaxBatchOps), maxFlights: max(maxFlights, 1)}
}

// Do sends op in the next batch and returns its result. If ctx ends first
// Do returns ctx's error; the operation may still be sent (like a request
// already on the wire), so a write needs its Idempotency-Key to be retried.
func (c *Coalescer) Do(ctx context.Context, op shardapi.BatchOp) (shardapi.BatchResult, error) {
	c.mu.Lock()
	var p *pending
	if n := len(c.queue); n > 0 && len(c.queue[n-1].ops) < c.maxOps {
		p = c.queue[n-1]
	} else {
		p = &pending{ops: make([]shardapi.BatchOp, 0, min(max(c.lastOps, 1), c.maxOps)), done: make(chan struct{})}
		c.queue = append(c.queue, p)
	}
	i := len(p.ops)
	p.ops = append(p.ops, op)
	mine := c.takeLocked()
	c.mu.Unlock()
	if mine != nil {
		c.fly(mine)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return shardapi.BatchResult{}, ctx.Err()
	}
	if p.err != nil {
		return shardapi.BatchResult{}, p.err
	}
	return p.res[i], nil
}

// takeLocked starts the oldest queued batch if a flight is free.
func (c *Coalescer) takeLocked() *pending {
	if c.flights >= c.maxFlights || len(c.queue) == 0 {
		return nil
	}
	p := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	c.flights++
	c.lastOps = len(p.ops)
	return p
}

// fly sends p, answers its callers, and starts the next queued batch.
func (c *Coalescer) fly(p *pending) {
	p.res, p.err = c.send(context.Background(), p.ops)
	if p.err == nil && len(p.res) != len(p.ops) {
		p.err = fmt.Errorf("batch of %d operations answered with %d results", len(p.ops), len(p.res))
	}
	close(p.done)
	c.mu.Lock()
	c.flights--
	next := c.takeLocked()
	c.mu.Unlock()
	if next != nil {
		go c.fly(next)
	}
}
