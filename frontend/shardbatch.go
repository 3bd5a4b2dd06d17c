package frontend

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/shard/batch"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// The buyers' holds, reads of holds, confirms and releases reach the shard
// through POST /v2/batch: concurrent buyers' operations share one request
// (and on the shard one group commit), one batch in flight per pod; an
// operation that arrives meanwhile leaves with the next one as soon as the
// batch returns (no timer: alone under light load). Each buyer keeps its own
// answer and Idempotency-Key.
//
// Anything a batch cannot settle goes the v1 way (shardClient.do), which
// retries and follows the leader: a batch that failed as a whole (the
// network, a 503), and each operation answered 421 not_leader or 502/503/504.
// That is safe because it is what do's own retries already are: holds and
// confirms carry their key, reads and releases are repeatable. A shard
// without /v2/batch (an older binary: 404 or 405) turns batching off for a
// minute.

// batchFlights is how many batches a pod may have in flight at once. One: the
// next batch gathers what arrives during the round trip, so it is larger, and
// the shard pays one request and one fsync for it where two flights paid two.
// Measured against two flights (closed loop, 64 clients, loopback): 13-23%
// less shard CPU per hold, as many or more holds/s (single shard and three
// members), and a lower hold p99 at 5,500 holds/s paced (shard/README.md,
// "One batch in flight"). Two flights were chosen so that the shard applies
// the next batch while it writes one; its writer fills the next group from
// the other pods' batches anyway, and the round trip inside a cluster is short
// next to an fsync.
const batchFlights = 1

// batchOffFor is how long batching stays off after a shard said it has no
// batch endpoint.
const batchOffFor = time.Minute

// batchState is the client's batch path.
type batchState struct {
	co       *batch.Coalescer
	offUntil atomic.Int64 // unix ns; batching off before this
}

// enableBatch makes write calls go through POST /v2/batch, up to maxOps
// operations a request (0: never).
func (c *shardClient) enableBatch(maxOps int) {
	if maxOps > 0 {
		c.batch.co = batch.NewCoalescer(c.sendBatch, maxOps, batchFlights)
	}
}

// write sends op (which is method path body key in v1) in a batch if it can,
// else as one v1 request; the answer is the one v1 would give.
func (c *shardClient) write(ctx context.Context, name string, op shardapi.BatchOp, method, path string, body []byte, key string) (*shardapi.Answer, error) {
	if c.batch.co == nil || time.Now().UnixNano() < c.batch.offUntil.Load() {
		return c.do(ctx, name, method, path, body, key)
	}
	res, err := c.batch.co.Do(ctx, op)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || res.Status == http.StatusMisdirectedRequest || retryableStatus(res.Status) {
		c.m.upstreamRetries.WithLabelValues(name).Inc()
		return c.do(ctx, name, method, path, body, key)
	}
	return &shardapi.Answer{Status: res.Status, Body: res.Body}, nil
}

// sendBatch posts one batch to the member believed to lead.
func (c *shardClient) sendBatch(ctx context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
	body := (&shardapi.BatchRequest{Ops: ops}).AppendJSON(nil)
	a, err := c.onceAt(ctx, c.members.leader(), "batch", http.MethodPost, shardapi.PathBatch, body, "")
	if err != nil {
		return nil, err
	}
	switch a.Status {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		c.batch.offUntil.Store(time.Now().Add(batchOffFor).UnixNano())
		return nil, fmt.Errorf("the shard has no %s (answered %d): batching off for %s", shardapi.PathBatch, a.Status, batchOffFor)
	default:
		return nil, fmt.Errorf("%s answered %d: %s", shardapi.PathBatch, a.Status, bytes.TrimSpace(a.Body))
	}
	res, err := shardapi.DecodeBatchResponse(a.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: undecodable answer: %w", shardapi.PathBatch, err)
	}
	return res, nil
}
