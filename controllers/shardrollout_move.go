package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// startUpgrades moves up to want showtimes, at most slots at once, in
// snapshot order, skipping those a freeze, their own sale peak or another
// rollout holds (listed as Waiting). It returns how many it started.
func (r *ShardRolloutReconciler) startUpgrades(ctx context.Context, s *rolloutScope, want, slots int) (int, error) {
	started := 0
	for i := range s.ro.Status.Showtimes {
		if started >= want || started >= slots {
			break
		}
		e := &s.ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || (e.State != boxv1.ShowtimePending && e.State != boxv1.ShowtimeWaiting) {
			continue
		}
		if held, err := r.held(ctx, s, e, st); err != nil {
			return started, err
		} else if held {
			continue
		}
		if err := r.upgrade(ctx, s, e, st); err != nil {
			if apierrors.IsConflict(err) {
				// Someone changed it under us: look again next time.
				s.conflicts++
				s.requeueAt(s.now.Add(time.Second))
				continue
			}
			e.State, e.Message = boxv1.ShowtimeWaiting, "could not change the showtime: "+err.Error()
			s.event(s.ro, nil, corev1.EventTypeWarning, "UpgradeRefused", "Upgrade", "%s: %v", entryKey(e), err)
			s.requeueAt(s.now.Add(r.interval(s.ro)))
			continue
		}
		started++
	}
	return started, nil
}

// held reports, and notes on the entry, whether a freeze, the showtime's
// own sale peak or another rollout holds it back.
func (r *ShardRolloutReconciler) held(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (bool, error) {
	if other := st.Annotations[boxv1.AnnotationRollout]; other != "" && other != s.ro.Name {
		o := &boxv1.ShardRollout{}
		err := r.Get(ctx, types.NamespacedName{Name: other}, o)
		if err == nil && !o.Status.Phase.Done() && o.Status.Phase != boxv1.RolloutSucceeded {
			e.State, e.Message = boxv1.ShowtimeWaiting, "held by ShardRollout "+other+" ("+string(o.Status.Phase)+")"
			s.heldBy[entryKey(e)] = other
			s.requeueAt(s.now.Add(r.interval(s.ro)))
			return true, nil
		}
	}
	hits, err := r.freezes()(ctx, r.Client, st, s.now)
	if err != nil {
		return false, fmt.Errorf("checking freezes of %s: %w", entryKey(e), err)
	}
	if len(hits) == 0 {
		return false, nil
	}
	parts := make([]string, 0, len(hits))
	var until time.Time
	for _, h := range hits {
		parts = append(parts, h.String())
		if h.End.After(until) {
			until = h.End
		}
	}
	if e.State != boxv1.ShowtimeWaiting {
		s.event(s.ro, nil, corev1.EventTypeNormal, "ShowtimeWaiting", "Upgrade", "%s waits: %s", entryKey(e), strings.Join(parts, "; "))
	}
	e.State, e.Message = boxv1.ShowtimeWaiting, "frozen by "+strings.Join(parts, "; ")
	s.frozen[entryKey(e)] = hits
	for _, h := range hits {
		s.requeueAt(h.End)
	}
	return true, nil
}

// upgrade is how one showtime moves to the target: one change of its images
// (the previous ones recorded in annotations and in the rollout status, for
// rollback), which its own controller rolls out; observeShowtime follows it
// to ready. A replicated shard moves the same way: its Showtime controller
// restarts the members one at a time, followers first and the leader last
// (showtime_memberupdate.go), and observeMembers follows them
// (shardrollout_members.go); the planner only counts showtimes Upgrading
// until they are ready.
func (r *ShardRolloutReconciler) upgrade(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) error {
	orig := st.DeepCopy()
	if st.Annotations == nil {
		st.Annotations = map[string]string{}
	}
	st.Annotations[boxv1.AnnotationRollout] = s.ro.Name
	// The images it runs now: after an earlier rollout, not the snapshot's.
	e.FromShardImage, e.FromFrontendImage = st.Spec.Shard.Image, st.Spec.Frontend.Image
	if e.ToShardImage != "" {
		st.Annotations[boxv1.AnnotationPreviousShardImage] = st.Spec.Shard.Image
		st.Spec.Shard.Image = e.ToShardImage
	}
	if e.ToFrontendImage != "" {
		st.Annotations[boxv1.AnnotationPreviousFrontendImage] = st.Spec.Frontend.Image
		st.Spec.Frontend.Image = e.ToFrontendImage
	}
	if err := r.Patch(ctx, st, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	e.State, e.Step, e.Analysis = boxv1.ShowtimeUpgrading, s.ro.Status.CurrentStep, boxv1.AnalysisPending
	e.ChangedAt, e.PauseStartedAt, e.ReadyAt, e.WritePause, e.AnalyzedAt = ptr.To(metav1.NewTime(s.now)), nil, nil, "", nil
	e.Message = "moving to " + imagesString(r.toImages(e))
	s.requeueAt(s.now.Add(r.readyDeadline(s.ro)))
	s.event(s.ro, st, corev1.EventTypeNormal, "Upgrading", "Upgrade", "step %d: %s moves from %s to %s",
		e.Step, entryKey(e), imagesString(r.fromImages(e)), imagesString(r.toImages(e)))
	s.event(st, s.ro, corev1.EventTypeNormal, "RolloutUpgrading", "Upgrade", "ShardRollout %s step %d: moving to %s",
		s.ro.Name, e.Step, imagesString(r.toImages(e)))
	return nil
}
