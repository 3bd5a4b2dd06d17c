// Package rolloutplan decides what a ShardRollout does next. It holds the
// step arithmetic (how many showtimes each step puts on the target, how many
// steps there are), the counts the status shows, and the decision of each
// pass of the rollout's step loop: move these showtimes, wait for them to
// restart, bake until a time, judge the cohort, roll back, pause on an
// inconclusive analysis, wait for held-back showtimes or a manual gate, go
// to the next step, or finish. For a replicated shard it also orders the
// members of one showtime's move (PlanMembers: followers first, each caught
// up before the next, the leader last) and finds a member that missed its
// ready deadline (OverdueMember).
//
// Everything here is a pure function of plain values (the rollout spec, the
// snapshot's per-showtime states, the step index, the analysis verdicts, the
// freeze state and the time, all passed in): no client, no clock of its own,
// no I/O, no events. The ShardRollout controller observes, analyses, asks
// the planner, acts on the decision and writes the status; how one showtime
// is moved (today: a change of its images) is the controller's to do.
package rolloutplan
