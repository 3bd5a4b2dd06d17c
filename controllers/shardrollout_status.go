package controllers

import (
	"context"
	"errors"
	"fmt"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func (r *ShardRolloutReconciler) succeed(s *rolloutScope) {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutSucceeded
	ro.Status.Reason = "Succeeded"
	ro.Status.Message = fmt.Sprintf("every selected showtime runs %s", targetString(ro))
	ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
	ro.Status.CompletedAt = ptr.To(metav1.NewTime(s.now))
	byHand := 0
	for i := range ro.Status.Showtimes {
		if ro.Status.Showtimes[i].Analysis == boxv1.AnalysisPromotedByHand {
			byHand++
		}
	}
	if byHand > 0 {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "PromotedByHand",
			fmt.Sprintf("no analysis failed; %d showtimes were promoted by hand after an inconclusive analysis", byHand))
	} else {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "AnalysisPassed", "every upgraded shard passed analysis")
	}
	s.event(ro, nil, corev1.EventTypeNormal, "Succeeded", "Promote", "%s", ro.Status.Message)
}

func (r *ShardRolloutReconciler) setProgressing(s *rolloutScope, reason, msg string) {
	ro := s.ro
	if ro.Status.Phase != boxv1.RolloutPromoting {
		ro.Status.Phase = boxv1.RolloutProgressing
	}
	ro.Status.Reason, ro.Status.Message = reason, msg
}

// setWaiting pauses promotion while everything left is held back.
func (r *ShardRolloutReconciler) setWaiting(s *rolloutScope) {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutPaused
	ro.Status.Reason, ro.Status.Message = rolloutplan.Waiting(s.planView(), ro.Status.CurrentStep)
}

// summarize fills the counts and conditions.
func (r *ShardRolloutReconciler) summarize(s *rolloutScope) {
	st := &s.ro.Status
	st.Total = int32(len(st.Showtimes))
	c := rolloutplan.Count(s.planView())
	st.Upgraded, st.InProgress, st.Waiting, st.RolledBack = int32(c.Upgraded), int32(c.InProgress), int32(c.Waiting), int32(c.RolledBack)
	pc := rolloutplan.ProgressingCondition(st.Phase, st.Reason, st.Message)
	setRolloutCondition(s.ro, boxv1.RolloutConditionProgressing, pc.Status, pc.Reason, pc.Message)
	if st.Phase != "" && st.Phase != boxv1.RolloutPending {
		inconclusiveCondition(s.ro)
	}
	if meta.FindStatusCondition(st.Conditions, boxv1.RolloutConditionHealthy) == nil && st.Phase != boxv1.RolloutFailed {
		setRolloutCondition(s.ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "NoFailure", "no analysis failed")
	}
	switch fc := rolloutplan.FrozenCondition(st.Phase, c.FrozenKeys); {
	case fc.Remove:
		meta.RemoveStatusCondition(&st.Conditions, boxv1.RolloutConditionFrozen)
	case !fc.Keep:
		setRolloutCondition(s.ro, boxv1.RolloutConditionFrozen, fc.Status, fc.Reason, fc.Message)
	}
}

func firstN(s []string, n int) []string { return rolloutplan.FirstN(s, n) }

// announce records an Event for each phase change.
func (r *ShardRolloutReconciler) announce(s *rolloutScope, before *boxv1.ShardRollout) {
	ro := s.ro
	if before.Status.Phase == ro.Status.Phase {
		return
	}
	typ := corev1.EventTypeNormal
	switch ro.Status.Phase {
	case boxv1.RolloutFailed, boxv1.RolloutRollingBack, boxv1.RolloutRolledBack:
		typ = corev1.EventTypeWarning
	}
	from := string(before.Status.Phase)
	if from == "" {
		from = "(new)"
	}
	s.event(ro, nil, typ, "Phase"+string(ro.Status.Phase), "Reconcile", "phase %s -> %s: %s", from, ro.Status.Phase, ro.Status.Message)
}

// syncShowtimeStatuses writes status.rollout of each showtime the rollout
// reached, with a status merge patch of that field alone, only when it
// changed.
func (r *ShardRolloutReconciler) syncShowtimeStatuses(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	var errs []error
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || s.heldBy[entryKey(e)] != "" {
			continue
		}
		if e.State == boxv1.ShowtimePending && e.Step == 0 {
			if st.Status.Rollout == nil || st.Status.Rollout.Name != ro.Name {
				continue
			}
		}
		want := &boxv1.ShowtimeRolloutStatus{Name: ro.Name, Step: e.Step, State: e.State, Phase: ro.Status.Phase, Message: e.Message}
		if equality.Semantic.DeepEqual(st.Status.Rollout, want) {
			continue
		}
		if err := r.Status().Patch(ctx, st, showtimeRolloutPatch(want)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("writing status.rollout of %s: %w", entryKey(e), err))
		}
	}
	return errors.Join(errs...)
}
