// Package waitroom holds the rules of one showtime's waiting room: who may
// choose seats now, who waits, in which order, and for how long.
//
// It is pure, like package seats beside it: no I/O, no goroutines and no clock
// of its own. Every command carries the time at which it is applied, and
// everything that could differ between two runs (the configuration, the seed
// of the pre-queue's shuffle, the seat counts) is decided by the caller and
// carried in the command. Applying the same commands to the same state always
// gives the same state and the same answers, so the shard's writer loop can
// log the commands (and a replicated shard can replicate them) and every
// member rebuilds the same queue.
//
// Rules:
//   - Joins are refused before Config.PreQueueAt. From then until OpOpen,
//     buyers join a pre-queue; OpOpen (applied by the leader at opensAt with
//     a seed it drew) puts the pre-queue in a uniformly random order (Shuffle),
//     and everyone joining later queues behind, first come first served.
//   - Joining carries a key chosen by the caller: joining again with a known
//     key answers the same place (a retried join is not a second place).
//   - At most Config.MaxActive buyers are admitted at once. An admission lasts
//     while the buyer is active: each OpTouch moves its idle deadline to
//     now + Config.IdleTimeout, and an admission that holds seats has none
//     (the hold's own expiry bounds it). At its deadline it ends, as it does
//     when the buyer leaves or buys (OpLeave); each end admits the next.
//     Lowering MaxActive sends nobody back: admissions wait until fewer than
//     the new number are admitted.
//   - The queue knows the seats (OpSeats): it admits while fewer admitted
//     buyers are still choosing (hold no seat) than seats are free. When no
//     seat is free but some are held, waiting buyers are told seats may come
//     back; when every seat is sold, the queue closes for good and everyone
//     waiting is told the show is sold out.
//   - An admission carries the seat limit in force when it was granted
//     (Config.MaxSeats), so the limit is per place in line: a new cookie is a
//     new place at the back, not more seats.
//   - Before any command runs, every admission whose idle deadline is at or
//     before the command's time ends, in (deadline, id) order, from a heap.
//   - While the room is configured, only an admission may hold seats: the
//     seat machine asks MayHoldAt (holder "w:<place>", read only) at its
//     command's time, which answers with the same boundary as the expiry
//     above, whether or not a command has ended the admission yet.
//
// A waiting place has a slot in the line that never changes while it waits
// (snapshots keep it). Line summarises the line in buckets of slots, small
// enough to broadcast to every front end, and LineSummary.AheadOf turns a
// slot into the people ahead without asking the shard.
//
// Memory is a few hundred bytes per buyer in the room (an entry, two map
// slots, a slot in the line), and positions are answered in O(log n) from a
// Fenwick tree over the line, so 50,000 waiting buyers polling their place is
// cheap.
package waitroom
