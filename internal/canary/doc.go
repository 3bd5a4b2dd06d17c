// Package canary is the verdict arithmetic of a ShardRollout: how the
// metrics of an upgraded shard or front end, set against the thresholds and
// the stable version's figures, become Passed, Failed or Inconclusive; which
// showtimes make the best canaries; and what a new pod that is not ready is
// really doing.
//
// Everything here is a pure function of plain values: no client, no clock,
// no I/O. The rollout controller observes, calls these, and acts. Too little
// evidence is Inconclusive, never Passed: the controller pauses on it.
package canary
