package rolloutplan

import boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"

// Asks is what people asked through the spec, and where the rollout stands,
// before its steps move.
type Asks struct {
	// Phase and Reason are the status'.
	Phase  boxv1.RolloutPhase
	Reason string
	// The spec's switches.
	PromoteFull, Promote, Retry, Paused bool
	// RetryTaken: spec.retry was already used in this reconcile (a
	// rollout started over).
	RetryTaken bool
	// WaitingForPromotion: a manual gate waits (status).
	WaitingForPromotion bool
}

// Resolution is on-call's answer to a rollout paused on an inconclusive
// analysis.
type Resolution string

const (
	// Unresolved: no answer, or nothing inconclusive to answer.
	Unresolved Resolution = ""
	// PromoteByHand: spec.promote moves the inconclusive showtimes on.
	PromoteByHand Resolution = "PromoteByHand"
	// BakeAgain: spec.retry bakes them again and judges them after.
	BakeAgain Resolution = "BakeAgain"
)

// Answer is how the rollout takes what was asked.
type Answer struct {
	// EnterFull: spec.promoteFull was just set: the rollout turns Promoting
	// and its baking showtimes are promoted without analysis.
	EnterFull bool
	// Inconclusive is the answer to an inconclusive pause.
	Inconclusive Resolution
	// IgnoreRetry, IgnorePromote: the switch was set with nothing waiting
	// for it; it is cleared (so it does not approve a later gate) and said.
	IgnoreRetry, IgnorePromote bool
	// PromoteLeft: spec.promote is still there for a manual gate.
	PromoteLeft bool
	// Pause: spec.paused was just set: the rollout turns Paused
	// (PausedByUser). Stop: spec.paused holds: no move and no next step in
	// this reconcile (analysis and rollback go on).
	Pause, Stop bool
	// Resume: spec.paused was cleared on a paused rollout: it turns
	// Progressing (Promoting when promoted in full).
	Resume bool
}

// Take is how the rollout takes the spec's switches, in order: a full
// promotion, the answer to an inconclusive pause, switches nobody waits
// for, then pause and resume.
func Take(a Asks) Answer {
	var ans Answer
	phase := a.Phase
	if a.PromoteFull && phase != boxv1.RolloutPromoting {
		ans.EnterFull, phase = true, boxv1.RolloutPromoting
	}
	if phase == boxv1.RolloutPaused && a.Reason == boxv1.RolloutReasonInconclusive && (a.Promote || a.Retry) {
		ans.Inconclusive, phase = BakeAgain, boxv1.RolloutProgressing
		if a.Promote {
			ans.Inconclusive = PromoteByHand
		}
	}
	ans.PromoteLeft = a.Promote && ans.Inconclusive != PromoteByHand
	ans.IgnoreRetry = a.Retry && !a.RetryTaken && ans.Inconclusive != BakeAgain
	ans.IgnorePromote = ans.PromoteLeft && !a.WaitingForPromotion
	switch {
	case a.Paused:
		ans.Pause, ans.Stop = phase != boxv1.RolloutPaused, true
	case phase == boxv1.RolloutPaused:
		ans.Resume = true
	}
	return ans
}
