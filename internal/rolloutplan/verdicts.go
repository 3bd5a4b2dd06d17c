package rolloutplan

import (
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

// ReadyOverdue reports whether a showtime moving to the target (Upgrading
// since e.ChangedAt) missed its ready deadline: its analysis fails.
func ReadyOverdue(e *boxv1.RolloutShowtime, now time.Time, deadline time.Duration) bool {
	return e.ChangedAt != nil && !now.Before(e.ChangedAt.Add(deadline))
}

// AnalysisDue reports whether a baking showtime is due for analysis now,
// and if not, when it is: one interval after its last.
func AnalysisDue(e *boxv1.RolloutShowtime, now time.Time, interval time.Duration) (bool, time.Time) {
	if e.AnalyzedAt == nil {
		return true, now
	}
	next := e.AnalyzedAt.Add(interval)
	return !now.Before(next), next
}

// Outcome is what a baking showtime's last analysis means once its bake is
// over.
type Outcome string

const (
	// Promoted: passed; the showtime is Upgraded.
	Promoted Outcome = "Promoted"
	// HeldInconclusive: too little evidence; the rollout pauses on it.
	HeldInconclusive Outcome = "Inconclusive"
	// Unread: it could not be read yet; it keeps baking within its grace
	// (one ready deadline after the bake, or after it was ready).
	Unread Outcome = "Unread"
	// Unreadable: still unread after its grace; its analysis fails.
	Unreadable Outcome = "Unreadable"
	// Undecided: any other result (Failed is returned by the analysis
	// itself): nothing to do here.
	Undecided Outcome = ""
)

// Final is the outcome of a baking showtime at the end of its bake
// (bakeUntil, nil when the step has none).
func Final(e *boxv1.RolloutShowtime, bakeUntil *time.Time, now time.Time, readyDeadline time.Duration) Outcome {
	switch e.Analysis {
	case boxv1.AnalysisPassed:
		return Promoted
	case boxv1.AnalysisInconclusive:
		return HeldInconclusive
	case boxv1.AnalysisPending:
		since := now
		if bakeUntil != nil {
			since = *bakeUntil
		} else if e.ReadyAt != nil {
			since = e.ReadyAt.Time
		}
		if !now.Before(since.Add(readyDeadline)) {
			return Unreadable
		}
		return Unread
	}
	return Undecided
}
