package rolloutplan

import boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"

// Showtime is what the planner knows of one showtime of the snapshot.
type Showtime struct {
	// Key names it (namespace/name), for messages.
	Key string
	boxv1.RolloutShowtime
	// Gone: the showtime no longer exists; it is left out of what remains
	// to move and of a rollback.
	Gone bool
	// Frozen: it waits for a freeze or its own on-sale peak (not for
	// another rollout).
	Frozen bool
}

// Counts are the snapshot's showtimes by state.
type Counts struct {
	// Moved are on the target or on their way (Upgrading, Baking,
	// Upgraded); Upgrading and Baking are the moving and the baking ones.
	Moved, Upgrading, Baking int
	// Remaining are still to move (Pending or Waiting), gone ones left out.
	Remaining int
	// The status counts: InProgress is Upgrading, Baking or RollingBack.
	Upgraded, InProgress, Waiting, RolledBack int
	// FrozenKeys names the waiting showtimes a freeze holds, in order.
	FrozenKeys []string
}

// Count counts the snapshot.
func Count(sts []Showtime) Counts {
	var c Counts
	for i := range sts {
		e := &sts[i]
		switch e.State {
		case boxv1.ShowtimeUpgrading:
			c.Upgrading++
			c.Moved++
			c.InProgress++
		case boxv1.ShowtimeBaking:
			c.Baking++
			c.Moved++
			c.InProgress++
		case boxv1.ShowtimeUpgraded:
			c.Moved++
			c.Upgraded++
		case boxv1.ShowtimeRollingBack:
			c.InProgress++
		case boxv1.ShowtimeWaiting:
			c.Waiting++
			if e.Frozen {
				c.FrozenKeys = append(c.FrozenKeys, e.Key)
			}
		case boxv1.ShowtimeRolledBack:
			c.RolledBack++
		}
		if !e.Gone && (e.State == boxv1.ShowtimePending || e.State == boxv1.ShowtimeWaiting) {
			c.Remaining++
		}
	}
	return c
}

// OnTargetByUs reports whether the entry is a showtime this rollout moved to
// the target and has not put back yet.
func OnTargetByUs(e *boxv1.RolloutShowtime) bool {
	switch e.State {
	case boxv1.ShowtimeUpgrading, boxv1.ShowtimeBaking, boxv1.ShowtimeUpgraded:
		// Step 0 and no analysis: it was on the target before the rollout,
		// not ours to move.
		return e.Step != 0 || e.Analysis != boxv1.AnalysisSkipped
	}
	return false
}

// RollbackPending counts the existing showtimes a rollback still waits for:
// restarting onto their previous images, or not restored yet.
func RollbackPending(sts []Showtime) int {
	n := 0
	for i := range sts {
		e := &sts[i]
		if !e.Gone && (e.State == boxv1.ShowtimeRollingBack || OnTargetByUs(&e.RolloutShowtime)) {
			n++
		}
	}
	return n
}
