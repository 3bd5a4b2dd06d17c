package controllers

import (
	"context"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// takeInputs applies what people asked through the spec before the steps
// move (the planner's Take says how): promoteFull, spec.promote and
// spec.retry on an inconclusive analysis (or cleared when nothing waits for
// them), paused and resumed. promoteLeft: spec.promote is still there for a
// manual gate; stop: the rollout is paused by spec.paused.
func (r *ShardRolloutReconciler) takeInputs(s *rolloutScope) (full, promoteLeft, stop bool) {
	ro := s.ro
	full = ro.Spec.PromoteFull
	ans := rolloutplan.Take(rolloutplan.Asks{
		Phase: ro.Status.Phase, Reason: ro.Status.Reason,
		PromoteFull: full, Promote: ro.Spec.Promote, Retry: ro.Spec.Retry, Paused: ro.Spec.Paused,
		RetryTaken: s.consumeRetry, WaitingForPromotion: ro.Status.WaitingForPromotion,
	})
	if ans.EnterFull {
		ro.Status.Phase = boxv1.RolloutPromoting
		ro.Status.Reason, ro.Status.Message = "PromotedFull", "spec.promoteFull: moving every remaining showtime, skipping steps, bakes and analysis"
		ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
		for i := range ro.Status.Showtimes {
			if e := &ro.Status.Showtimes[i]; e.State == boxv1.ShowtimeBaking {
				e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "promoted in full: analysis skipped"
			}
		}
	}
	if ans.Inconclusive != rolloutplan.Unresolved {
		stepBake := rolloutplan.StepAt(ro.Spec.Steps, int32(len(ro.Status.Showtimes)), ro.Status.CurrentStep, full).Bake
		r.resolveInconclusive(s, ans.Inconclusive, stepBake)
	}
	if ans.IgnoreRetry {
		s.consumeRetry = true
		s.event(ro, nil, corev1.EventTypeNormal, "RetryIgnored", "Retry", "spec.retry set while no analysis is inconclusive and the rollout is not rolled back or failed; cleared")
	}
	if ans.IgnorePromote {
		// Nothing waits for it: clear it so it does not approve a later gate.
		s.consumePromote = true
		s.event(ro, nil, corev1.EventTypeNormal, "PromoteIgnored", "Promote", "spec.promote set while no manual gate waits; cleared")
	}
	if ans.Pause {
		ro.Status.Phase = boxv1.RolloutPaused
		ro.Status.Reason, ro.Status.Message = "PausedByUser", "spec.paused: no new upgrades and no next step; analysis and rollback go on"
	}
	if ans.Resume {
		ro.Status.Phase = boxv1.RolloutProgressing
		ro.Status.Reason, ro.Status.Message = "Resumed", "resumed"
		if full {
			ro.Status.Phase = boxv1.RolloutPromoting
		}
	}
	return full, ans.PromoteLeft, ans.Stop
}

// promote runs the step loop: it asks the planner what the current step
// needs, acts on the answer, and asks again until the rollout has to wait.
func (r *ShardRolloutReconciler) promote(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	full, promoteLeft, stop := r.takeInputs(s)
	if stop {
		return nil
	}
	in := rolloutplan.Input{Name: ro.Name, Spec: &ro.Spec, Total: int32(len(ro.Status.Showtimes)), Full: full, PromoteLeft: promoteLeft}
	for {
		in.CurrentStep, in.Now, in.Conflicts = ro.Status.CurrentStep, s.now, s.conflicts
		in.BakeUntil = nil
		if ro.Status.BakeUntil != nil {
			in.BakeUntil = &ro.Status.BakeUntil.Time
		}
		in.Counts = rolloutplan.Count(s.planView())
		d := rolloutplan.Decide(in)
		ro.Status.StepTarget = d.Step.Target
		again, err := r.act(ctx, s, d, &in)
		if err != nil || !again {
			return err
		}
	}
}

// act carries out one decision of the planner. again: ask the planner
// again (the decision moved something along in this reconcile).
func (r *ShardRolloutReconciler) act(ctx context.Context, s *rolloutScope, d rolloutplan.Decision, in *rolloutplan.Input) (again bool, err error) {
	ro := s.ro
	switch d.Kind {
	case rolloutplan.Move:
		started, err := r.startUpgrades(ctx, s, d.Want, d.Slots)
		if err != nil {
			return false, err
		}
		if started > 0 {
			// Newcomers bake in full.
			ro.Status.BakeUntil = nil
		}
		in.MoveTried = true
		return true, nil
	case rolloutplan.Judge:
		in.Judged, in.Failed = true, r.judgeBaked(ctx, s)
		in.Inconclusive = len(s.inconclusive)
		return true, nil
	case rolloutplan.Upgrading, rolloutplan.Conflicts:
		r.setProgressing(s, d.Reason, d.Message)
	case rolloutplan.Bake:
		if d.SetBakeUntil {
			ro.Status.BakeUntil = ptr.To(metav1.NewTime(d.Until))
		}
		if d.Blocked {
			r.setWaiting(s)
		} else {
			r.setProgressing(s, d.Reason, d.Message)
		}
		s.requeueAt(d.Until)
	case rolloutplan.RollBack:
		return false, r.beginRollback(ctx, s, d.Reason, d.Message)
	case rolloutplan.PauseInconclusive:
		r.pauseInconclusive(s)
	case rolloutplan.Reanalyse:
		s.requeueAt(d.Until)
	case rolloutplan.Wait:
		r.setWaiting(s)
	case rolloutplan.Done:
		r.succeed(s)
	case rolloutplan.AwaitPromotion:
		if !ro.Status.WaitingForPromotion {
			ro.Status.WaitingForPromotion = true
			s.event(ro, nil, corev1.EventTypeNormal, "WaitingForPromotion", "Promote",
				"step %d done (%d showtimes on %s); waiting for `kubectl boxoffice rollout promote %s`", ro.Status.CurrentStep, in.Counts.Moved, targetString(ro), ro.Name)
		}
		r.setProgressing(s, d.Reason, d.Message)
	case rolloutplan.Promote:
		s.consumePromote = true
		s.event(ro, nil, corev1.EventTypeNormal, "Promoted", "Promote", "manual gate after step %d approved", ro.Status.CurrentStep)
		r.nextStep(s, in)
		return true, nil
	case rolloutplan.NextStep:
		r.nextStep(s, in)
		return true, nil
	}
	return false, nil
}

// nextStep starts the next step.
func (r *ShardRolloutReconciler) nextStep(s *rolloutScope, in *rolloutplan.Input) {
	ro := s.ro
	ro.Status.WaitingForPromotion = false
	ro.Status.BakeUntil = nil
	ro.Status.CurrentStep++
	in.MoveTried, in.Judged, in.Failed, in.Inconclusive = false, false, "", 0
	s.event(ro, nil, corev1.EventTypeNormal, "StepStarted", "Promote", "step %d of %d", ro.Status.CurrentStep, r.stepCount(ro))
}

// stepCount is the number of steps, with the implicit last one.
func (r *ShardRolloutReconciler) stepCount(ro *boxv1.ShardRollout) int32 {
	return rolloutplan.StepCount(ro.Spec.Steps, int32(len(ro.Status.Showtimes)))
}

// planView is the snapshot as the planner sees it.
func (s *rolloutScope) planView() []rolloutplan.Showtime {
	out := make([]rolloutplan.Showtime, len(s.ro.Status.Showtimes))
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		k := entryKey(e)
		_, frozen := s.frozen[k]
		out[i] = rolloutplan.Showtime{Key: k.String(), RolloutShowtime: *e, Gone: s.showtimes[k] == nil, Frozen: frozen}
	}
	return out
}
