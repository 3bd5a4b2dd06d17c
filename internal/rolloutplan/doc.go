// Package rolloutplan decides what a ShardRollout does next. It holds the
// step arithmetic (how many showtimes each step puts on the target, how many
// steps there are), the counts the status shows, and the decision of each
// pass of the rollout's step loop: move these showtimes, wait for them to
// restart, bake until a time, judge the cohort, roll back, pause on an
// inconclusive analysis, wait for held-back showtimes or a manual gate, go
// to the next step, or finish.
//
// Everything here is a pure function of plain values (the rollout spec, the
// snapshot's per-showtime states, the step index, the analysis verdicts, the
// freeze state and the time, all passed in): no client, no clock of its own,
// no I/O, no events. The ShardRollout controller observes, analyses, asks
// the planner, acts on the decision and writes the status; how one showtime
// is moved (today: a change of its images) is the controller's to do.
package rolloutplan
