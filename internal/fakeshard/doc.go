// Package fakeshard is the repository's one fake shard for tests: an HTTP
// server on loopback that answers the shard's read side of contract v1
// (docs/api/shard-v1.openapi.yaml) — GET /v1/status and GET /metrics — with
// what the test set, per address, so that one Server stands for a single
// shard, the members of a replicated shard or every shard pod of a test
// (pods have their own IPs and one shard port: the Server listens on several
// loopback IPs, 127.0.0.x, with the same port).
//
// A test sets, per address, the status (shard/shardapi's Status), the
// metrics exposition, and an error (shardapi's Error) that every /v1 call
// answers with. The bearer token
// can be required. Further routes (the seat API of a richer fake) mount on
// the same server with Handle.
//
// Seats adds the seat side on top: holds, idempotency, the per-holder limit,
// confirm, await-payment, extend, release and the event stream, all in
// memory, for a client's own tests (the front end's). Neither has a disk or
// a clock: tests that need the real shard run the real binary.
package fakeshard
