// Package batch is the shard's batch endpoint (POST /v2/batch) seen from both
// ends: its wire types, and a Coalescer that gathers the writes of many
// concurrent callers (the front end's buyers, the load generator's clients)
// into one request per round trip.
//
// A batch carries operations that are independent of each other; each has
// its own Idempotency-Key (holds and confirms), its own answer (the status
// and body the v1 endpoint would have given) and its own durability: an
// answer is sent only after the operation's change is on disk (on a majority,
// in cluster mode), exactly as v1. The package holds no seat rules and does
// no I/O of its own: a Coalescer calls the SendFunc it is given.
package batch

import "encoding/json"

// Path is where a shard serves batches.
const Path = "/v2/batch"

// MaxOps is the most operations one batch may carry; MaxBytes the largest
// body a shard reads.
const (
	MaxOps   = 256
	MaxBytes = 1 << 20
)

// Operation names (Op.Op), one per v1 endpoint.
const (
	OpHold         = "hold"          // POST /v1/holds
	OpGet          = "get"           // GET /v1/holds/{hold}
	OpExtend       = "extend"        // POST /v1/holds/{hold}/extend
	OpAwaitPayment = "await_payment" // POST /v1/holds/{hold}/await-payment
	OpConfirm      = "confirm"       // POST /v1/holds/{hold}/confirm
	OpRelease      = "release"       // DELETE /v1/holds/{hold}
)

// Op is one operation: the v1 request's path parameter, header and body in
// one object.
type Op struct {
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

// Request is the body of POST /v2/batch.
type Request struct {
	Ops []Op `json:"ops"`
}

// Result is one operation's answer: the status code and the JSON body v1
// answers (a hold, or an error with its code).
type Result struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Response is the body of a 200 answer to POST /v2/batch: one result per
// operation, in the request's order.
type Response struct {
	Results []Result `json:"results"`
}
