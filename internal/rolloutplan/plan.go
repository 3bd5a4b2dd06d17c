package rolloutplan

import (
	"fmt"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

// Kind is what the rollout does next.
type Kind string

const (
	// Move: start moving up to Want showtimes, at most Slots at once, in
	// snapshot order, skipping the held ones. A showtime started resets the
	// bake (newcomers bake in full). Then ask again.
	Move Kind = "Move"
	// Upgrading: wait for the moving showtimes to be ready on the target.
	Upgrading Kind = "Upgrading"
	// Conflicts: showtimes changed while being moved; move them again in a
	// second.
	Conflicts Kind = "Conflicts"
	// Bake: the cohort bakes until Until (to be kept in status.bakeUntil
	// when SetBakeUntil); wait until then.
	Bake Kind = "Bake"
	// Judge: the bake is over; give the baking cohort its final verdict,
	// then ask again with Judged set.
	Judge Kind = "Judge"
	// RollBack: roll back every moved showtime (Reason, Message).
	RollBack Kind = "RollBack"
	// PauseInconclusive: pause until on-call promotes or retries the
	// showtimes whose analysis is inconclusive.
	PauseInconclusive Kind = "PauseInconclusive"
	// Reanalyse: a baking showtime could not be analysed; look again at
	// Until.
	Reanalyse Kind = "Reanalyse"
	// Wait: everything left of the step is held back (a freeze, an on-sale
	// peak, another rollout); the rollout is Paused with Reason.
	Wait Kind = "Wait"
	// AwaitPromotion: the step is done and its manual gate waits for
	// spec.promote.
	AwaitPromotion Kind = "AwaitPromotion"
	// Promote: spec.promote approves the manual gate: spec.promote is
	// consumed, then the next step starts.
	Promote Kind = "Promote"
	// NextStep: the step is done; the next starts.
	NextStep Kind = "NextStep"
	// Done: every showtime is on the target.
	Done Kind = "Done"
)

// Input is what one pass of the step loop looks at.
type Input struct {
	// Name is the rollout's, for the messages.
	Name string
	Spec *boxv1.ShardRolloutSpec
	// Total is the number of showtimes of the snapshot; CurrentStep the
	// status' (1-based).
	Total, CurrentStep int32
	// Full: spec.promoteFull moves everyone, skipping bakes, analysis and
	// gates.
	Full bool
	// BakeUntil is status.bakeUntil, if any.
	BakeUntil *time.Time
	Now       time.Time
	Counts    Counts
	// MoveTried: this step's moves were tried in this reconcile already.
	MoveTried bool
	// Conflicts counts the showtimes whose move met a conflict.
	Conflicts int
	// Judged: the cohort got its final verdict in this pass: Failed is the
	// first failure ("" for none), Inconclusive how many are inconclusive.
	Judged       bool
	Failed       string
	Inconclusive int
	// PromoteLeft: spec.promote is set and not used yet.
	PromoteLeft bool
}

// Decision is what to do next.
type Decision struct {
	Kind Kind
	// Step is the current step's plan.
	Step Step
	// Want and Slots bound a Move.
	Want, Slots int
	// Until is when a Bake ends or a Reanalyse looks again.
	Until time.Time
	// SetBakeUntil: the bake starts now; keep Until in status.bakeUntil.
	SetBakeUntil bool
	// Blocked: what is left of the step is held back; a Bake reads as
	// Paused (Waiting or Frozen), not Progressing.
	Blocked bool
	// Reason and Message are the status' for Upgrading, Conflicts, Bake,
	// RollBack, AwaitPromotion.
	Reason, Message string
}

// Decide is one pass of the step loop: given where the current step stands,
// what to do next. The caller acts and, for Move, Judge, Promote and
// NextStep, asks again.
func Decide(in Input) Decision {
	step := StepAt(in.Spec.Steps, in.Total, in.CurrentStep, in.Full)
	d := Decision{Step: step}
	c := in.Counts
	slots := int(MaxConcurrent(in.Spec)) - c.Upgrading
	if c.Moved < int(step.Target) && !in.MoveTried && slots > 0 {
		d.Kind, d.Want, d.Slots = Move, int(step.Target)-c.Moved, slots
		return d
	}
	if c.Upgrading > 0 {
		return d.with(Upgrading, "Upgrading", fmt.Sprintf("step %d: %d showtimes restarting onto the target", in.CurrentStep, c.Upgrading))
	}
	if in.Conflicts > 0 {
		return d.with(Conflicts, "Upgrading", fmt.Sprintf("step %d: %d showtimes changed while being moved; moving them again", in.CurrentStep, in.Conflicts))
	}
	d.Blocked = c.Moved < int(step.Target) && c.Remaining > 0
	if !in.Full && c.Baking > 0 && !in.Judged {
		if b, ok := bake(in, step, d); ok {
			return b
		}
		d.Kind = Judge
		return d
	}
	if !in.Full && in.Judged {
		switch {
		case in.Failed != "":
			return d.with(RollBack, "AnalysisFailed", in.Failed)
		case in.Inconclusive > 0:
			d.Kind = PauseInconclusive
			return d
		case c.Baking > 0:
			// Judged and still baking: an analysis could not run.
			d.Kind, d.Until = Reanalyse, in.Now.Add(Interval(in.Spec))
			return d
		}
	}
	switch {
	case d.Blocked:
		d.Kind = Wait
	case c.Remaining == 0 && c.Baking == 0:
		d.Kind = Done
	case step.Gate && !in.Full && !in.PromoteLeft:
		return d.with(AwaitPromotion, "WaitingForPromotion",
			fmt.Sprintf("step %d done; waiting for promotion (kubectl boxoffice rollout promote %s)", in.CurrentStep, in.Name))
	case step.Gate && !in.Full:
		d.Kind = Promote
	default:
		d.Kind = NextStep
	}
	return d
}

// bake is the Bake decision while the cohort's bake (the step's, or one
// spec.retry started) runs.
func bake(in Input, step Step, d Decision) (Decision, bool) {
	if step.Bake <= 0 && in.BakeUntil == nil {
		return d, false
	}
	if in.BakeUntil == nil {
		d.Until, d.SetBakeUntil = in.Now.Add(step.Bake), true
	} else {
		d.Until = *in.BakeUntil
	}
	if !in.Now.Before(d.Until) {
		return d, false
	}
	return d.with(Bake, "Baking", fmt.Sprintf("step %d: baking until %s", in.CurrentStep, d.Until.UTC().Format(time.RFC3339))), true
}

func (d Decision) with(k Kind, reason, msg string) Decision {
	d.Kind, d.Reason, d.Message = k, reason, msg
	return d
}

// Waiting is the reason and message of a rollout paused because everything
// left of step is held back: Frozen when a freeze holds one of them,
// Waiting otherwise; the message names the first three.
func Waiting(sts []Showtime, step int32) (reason, message string) {
	var names []string
	reason = "Waiting"
	for i := range sts {
		e := &sts[i]
		if e.State != boxv1.ShowtimeWaiting {
			continue
		}
		names = append(names, e.Key+": "+e.Message)
		if e.Frozen {
			reason = "Frozen"
		}
	}
	return reason, fmt.Sprintf("step %d cannot go on: %s", step, strings.Join(FirstN(names, 3), "; "))
}

// FirstN is the first n of s, then "and k more".
func FirstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

// Route is what a reconcile of a started rollout does, before the step loop.
type Route string

const (
	// RouteIdle: a Succeeded rollout nobody asked to undo.
	RouteIdle Route = "Idle"
	// RouteUndo: spec.abort on a Succeeded rollout: roll everything back.
	RouteUndo Route = "Undo"
	// RouteRollingBack: go on restoring and follow the rollback.
	RouteRollingBack Route = "RollingBack"
	// RouteAbort: spec.abort: roll back.
	RouteAbort Route = "Abort"
	// RouteAdvance: analyse, then the step loop.
	RouteAdvance Route = "Advance"
)

// RouteOf is the route of a started rollout in phase with spec.abort.
func RouteOf(phase boxv1.RolloutPhase, abort bool) Route {
	switch {
	case phase == boxv1.RolloutSucceeded && abort:
		return RouteUndo
	case phase == boxv1.RolloutSucceeded:
		return RouteIdle
	case phase == boxv1.RolloutRollingBack:
		return RouteRollingBack
	case abort:
		return RouteAbort
	}
	return RouteAdvance
}
