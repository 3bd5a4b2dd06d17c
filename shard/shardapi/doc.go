// Package shardapi is the shard's wire contract in Go: the request and answer
// types of every /v1 endpoint, the error codes with their HTTP statuses, the
// header names, the metric names the shard exports, and the one client that
// the operator, the front end and the benchmarks use to talk to a shard.
//
// The contract itself is written down as OpenAPI 3 documents in docs/api:
// shard-v1.openapi.yaml (one shard), shard-v2.openapi.yaml (replicated
// shards: cluster fields in /v1/status and 421 not_leader) and
// shard-batch.openapi.yaml (contract v3: POST /v2/batch, BatchRequest). The types here
// follow those documents field by field; the shard's contract tests hold the
// running binary to the documents and these types to the shard's answers.
//
// The package holds no server logic and no seat rules (those live in
// shard/seats and shard/waitroom). Its encoders (AppendJSON methods,
// AppendString) write into a caller's buffer so that hot paths can reuse
// buffers. The shard answers errors with Error.AppendJSON and names its
// codes, headers, roles and metrics by this package's constants; its
// per-request answers (holds, seats, status) are written by allocation-free
// encoders in shard/server, which its tests hold to these types by decoding
// every kind of answer into them with unknown fields refused.
//
// Client sends one try to one member and decodes the answer: an error
// answer is an *Error carrying its HTTP status (a 421 not_leader also the
// leader's URL, Error.LeaderURL). Retrying with the same Idempotency-Key and
// following a leader's hint across members are the caller's policy (the
// front end's shardClient does both); Client.HTTP may be any Doer, so a
// caller can bring a lean transport (the load generator does).
package shardapi
