package controllers

import (
	"context"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// beginRollback restores the previous images of every showtime this rollout
// moved, whatever the freezes, and marks the rollout RollingBack. A restore
// that fails is retried by every later reconcile (see restoreMoved) until it
// goes through.
func (r *ShardRolloutReconciler) beginRollback(ctx context.Context, s *rolloutScope, reason, msg string) error {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutRollingBack
	ro.Status.Reason, ro.Status.Message = reason, msg
	ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
	if reason == "AnalysisFailed" {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionFalse, reason, msg)
	}
	s.event(ro, nil, corev1.EventTypeWarning, "RollingBack", "Rollback", "%s: %s; rolling every moved showtime back", reason, msg)
	r.restoreMoved(ctx, s)
	r.finishRollback(s)
	return nil
}

func onTargetByUs(e *boxv1.RolloutShowtime) bool { return rolloutplan.OnTargetByUs(e) }

// restoreMoved puts the previous images back on every showtime this rollout
// moved that is still on the target, and sends the showtimes still waiting
// back to Pending. A restore that fails leaves the entry as it was, with the
// error in its message, to be tried again at the next reconcile (at the
// latest one analysis interval later).
func (r *ShardRolloutReconciler) restoreMoved(ctx context.Context, s *rolloutScope) {
	ro := s.ro
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if e.State == boxv1.ShowtimeWaiting {
			e.State, e.Message = boxv1.ShowtimePending, "not moved: the rollout is rolling back"
			continue
		}
		st := s.showtimes[entryKey(e)]
		if !onTargetByUs(e) || st == nil {
			continue
		}
		if err := r.restore(ctx, s, e, st); err != nil {
			msg := "rollback failed, retrying: " + err.Error()
			if e.Message != msg {
				s.event(ro, nil, corev1.EventTypeWarning, "RollbackFailed", "Rollback", "%s: %v; retrying", entryKey(e), err)
			}
			e.Message = msg
			logf.FromContext(ctx).Error(err, "rolling back a showtime; retrying", "showtime", entryKey(e).String())
			s.requeueAt(s.now.Add(r.interval(ro)))
		}
	}
}

// restore puts the showtime's previous images back (only the fields this
// rollout changed and still holds). On failure st is left as it was read.
func (r *ShardRolloutReconciler) restore(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) error {
	upd := st.DeepCopy()
	if e.ToShardImage != "" && upd.Spec.Shard.Image == e.ToShardImage {
		upd.Spec.Shard.Image = e.FromShardImage
	}
	if e.ToFrontendImage != "" && upd.Spec.Frontend.Image == e.ToFrontendImage {
		upd.Spec.Frontend.Image = e.FromFrontendImage
	}
	delete(upd.Annotations, boxv1.AnnotationPreviousShardImage)
	delete(upd.Annotations, boxv1.AnnotationPreviousFrontendImage)
	if err := r.Patch(ctx, upd, client.MergeFrom(st)); err != nil {
		return err
	}
	*st = *upd
	e.State, e.ChangedAt, e.PauseStartedAt, e.ReadyAt, e.WritePause = boxv1.ShowtimeRollingBack, ptr.To(metav1.NewTime(s.now)), nil, nil, ""
	e.Message = "rolling back to " + imagesString(r.fromImages(e))
	s.event(st, s.ro, corev1.EventTypeWarning, "RolloutRollingBack", "Rollback", "ShardRollout %s: %s; back to %s",
		s.ro.Name, s.ro.Status.Reason, imagesString(r.fromImages(e)))
	return nil
}

// finishRollback marks the rollout RolledBack once every showtime it moved
// is ready on its previous images: one whose restore has not gone through
// yet (still on the target) keeps it RollingBack, like one still restarting.
func (r *ShardRolloutReconciler) finishRollback(s *rolloutScope) {
	ro := s.ro
	pending := rolloutplan.RollbackPending(s.planView())
	if pending > 0 {
		s.requeueAt(s.now.Add(r.interval(ro)))
		return
	}
	ro.Status.Phase = boxv1.RolloutRolledBack
	ro.Status.CompletedAt = ptr.To(metav1.NewTime(s.now))
	rolloutRollbacks.WithLabelValues(ro.Name, ro.Status.Reason).Inc()
	s.event(ro, nil, corev1.EventTypeWarning, "RolledBack", "Rollback", "%s: %s; every moved showtime is back on its previous version", ro.Status.Reason, ro.Status.Message)
}
