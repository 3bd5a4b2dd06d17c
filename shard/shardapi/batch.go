package shardapi

import "encoding/json"

// The batch endpoint, contract v3 (docs/api/shard-batch.openapi.yaml):
// many independent operations in one request, each with the answer its v1
// request gets. shard/batch gathers concurrent callers' operations into
// batches.
const (
	PathBatch = "/v2/batch"
	// MaxBatchOps is the most operations one batch may carry; MaxBatchBytes
	// the largest body a shard reads.
	MaxBatchOps   = 256
	MaxBatchBytes = 1 << 20
)

// Operation names (BatchOp.Op), one per v1 endpoint.
const (
	BatchHold         = "hold"          // POST /v1/holds
	BatchGet          = "get"           // GET /v1/holds/{hold}
	BatchExtend       = "extend"        // POST /v1/holds/{hold}/extend
	BatchAwaitPayment = "await_payment" // POST /v1/holds/{hold}/await-payment
	BatchConfirm      = "confirm"       // POST /v1/holds/{hold}/confirm
	BatchRelease      = "release"       // DELETE /v1/holds/{hold}
)

// BatchOp is one operation: the v1 request's path parameter, header and body
// in one object.
type BatchOp struct {
	Op string `json:"op"`
	// Hold is the hold id of every operation but hold.
	Hold string `json:"hold,omitempty"`
	// IdempotencyKey is the v1 Idempotency-Key header (hold and confirm;
	// ignored on the others, as v1 ignores the header there).
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Seats and Holder: hold. TTLSeconds: hold, extend, await_payment
	// (absent: the shard's default, as in v1).
	Seats      []string `json:"seats,omitempty"`
	Holder     string   `json:"holder,omitempty"`
	TTLSeconds *int64   `json:"ttlSeconds,omitempty"`
	// OrderID: confirm.
	OrderID string `json:"orderId,omitempty"`
}

// BatchRequest is the body of POST /v2/batch.
type BatchRequest struct {
	Ops []BatchOp `json:"ops"`
}

// BatchResult is one operation's answer: the status code and the JSON body
// v1 answers (a Hold, or an Error with its code).
type BatchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// BatchResponse is the body of a 200 answer to POST /v2/batch: one result
// per operation, in the request's order.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}
