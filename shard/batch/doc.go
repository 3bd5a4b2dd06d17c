// Package batch gathers the writes of many concurrent callers (the front
// end's buyers, the load generator's clients) into POST /v2/batch requests,
// one per round trip: a Coalescer. The wire types are the contract's
// (shardapi.BatchOp and the others, contract v3).
//
// A batch carries operations that are independent of each other; each has
// its own Idempotency-Key (holds and confirms), its own answer (the status
// and body the v1 endpoint would have given) and its own durability: an
// answer is sent only after the operation's change is on disk (on a majority,
// in cluster mode), exactly as v1. The package holds no seat rules and does
// no I/O of its own: a Coalescer calls the SendFunc it is given.
package batch
