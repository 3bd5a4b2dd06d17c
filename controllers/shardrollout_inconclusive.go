package controllers

import (
	"fmt"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// pausedInconclusive reports whether the rollout is paused on an
// Inconclusive analysis.
func pausedInconclusive(ro *boxv1.ShardRollout) bool {
	return ro.Status.Phase == boxv1.RolloutPaused && ro.Status.Reason == boxv1.RolloutReasonInconclusive
}

// pauseInconclusive pauses the rollout on the showtimes of s.inconclusive:
// phase Paused, reason AnalysisInconclusive, condition AnalysisInconclusive
// True, and a Warning event when it starts (not at every look). Analysis goes on every
// interval: a canary that gets its evidence is judged then.
func (r *ShardRolloutReconciler) pauseInconclusive(s *rolloutScope) {
	ro := s.ro
	var parts []string
	reason := ""
	for _, e := range s.inconclusive {
		parts = append(parts, entryKey(e).String()+": "+e.Message)
		if reason == "" {
			reason = s.inconclusiveReason[entryKey(e)]
		}
	}
	if reason == "" {
		reason = "TooLittleEvidence"
	}
	msg := fmt.Sprintf("step %d: analysis inconclusive after the bake (%s); promote by hand (kubectl boxoffice rollout promote %s) or bake longer and judge again (kubectl boxoffice rollout retry %s --bake 10m)",
		ro.Status.CurrentStep, strings.Join(firstN(parts, 3), "; "), ro.Name, ro.Name)
	if !s.wasInconclusive {
		s.event(ro, nil, corev1.EventTypeWarning, boxv1.RolloutReasonInconclusive, "Analysis", "%s", msg)
	}
	ro.Status.Phase = boxv1.RolloutPaused
	ro.Status.Reason, ro.Status.Message = boxv1.RolloutReasonInconclusive, msg
	setRolloutCondition(ro, boxv1.RolloutConditionInconclusive, metav1.ConditionTrue, reason, msg)
	s.requeueAt(s.now.Add(r.interval(ro)))
}

// resolveInconclusive applies on-call's answer to a rollout paused on an
// Inconclusive analysis: spec.promote (PromoteByHand) moves the
// inconclusive showtimes on as PromotedByHand; spec.retry (BakeAgain) bakes
// them again (spec.retryBake, or the step's bake, at least one interval)
// and judges them after it.
func (r *ShardRolloutReconciler) resolveInconclusive(s *rolloutScope, res rolloutplan.Resolution, stepBake time.Duration) {
	ro := s.ro
	var names []string
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if e.State == boxv1.ShowtimeBaking && e.Analysis == boxv1.AnalysisInconclusive {
			names = append(names, entryKey(e).String())
		}
	}
	joined := strings.Join(firstN(names, 5), ", ")
	if res == rolloutplan.PromoteByHand {
		for i := range ro.Status.Showtimes {
			e := &ro.Status.Showtimes[i]
			if e.State == boxv1.ShowtimeBaking && e.Analysis == boxv1.AnalysisInconclusive {
				e.State, e.Analysis = boxv1.ShowtimeUpgraded, boxv1.AnalysisPromotedByHand
				e.Message = "promoted by hand after an inconclusive analysis: " + e.Message
			}
		}
		s.consumePromote = true
		msg := fmt.Sprintf("step %d: %s promoted by hand after an inconclusive analysis", ro.Status.CurrentStep, joined)
		s.event(ro, nil, corev1.EventTypeNormal, "PromotedByHand", "Promote", "%s", msg)
		setRolloutCondition(ro, boxv1.RolloutConditionInconclusive, metav1.ConditionFalse, "PromotedByHand", msg)
		ro.Status.Phase, ro.Status.Reason, ro.Status.Message = boxv1.RolloutProgressing, "PromotedByHand", msg
		return
	}
	bake := stepBake
	if ro.Spec.RetryBake != nil {
		bake = ro.Spec.RetryBake.Duration
	}
	bake = max(bake, r.interval(ro))
	ro.Status.BakeUntil = ptr.To(metav1.NewTime(s.now.Add(bake)))
	for i := range ro.Status.Showtimes {
		if e := &ro.Status.Showtimes[i]; e.State == boxv1.ShowtimeBaking {
			e.AnalyzedAt = nil
		}
	}
	s.consumeRetry = true
	msg := fmt.Sprintf("step %d: baking %s another %s, then judging again", ro.Status.CurrentStep, joined, bake)
	s.event(ro, nil, corev1.EventTypeNormal, "BakeExtended", "Analysis", "%s", msg)
	setRolloutCondition(ro, boxv1.RolloutConditionInconclusive, metav1.ConditionFalse, "Retried", msg)
	ro.Status.Phase, ro.Status.Reason, ro.Status.Message = boxv1.RolloutProgressing, "BakeExtended", msg
}

// inconclusiveCondition keeps AnalysisInconclusive False while the rollout
// does not pause on one (a reason set by resolveInconclusive stays).
func inconclusiveCondition(ro *boxv1.ShardRollout) {
	if pausedInconclusive(ro) {
		return
	}
	c := meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionInconclusive)
	if c == nil || c.Status == metav1.ConditionTrue {
		setRolloutCondition(ro, boxv1.RolloutConditionInconclusive, metav1.ConditionFalse, "NotInconclusive",
			"no upgraded showtime waits for evidence")
	}
}
