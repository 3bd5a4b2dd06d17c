package controllers

import (
	"context"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// observe follows every moving showtime to ready, measuring its write pause.
func (r *ShardRolloutReconciler) observe(ctx context.Context, s *rolloutScope) {
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil {
			continue
		}
		switch e.State {
		case boxv1.ShowtimeUpgrading, boxv1.ShowtimeRollingBack:
		default:
			continue
		}
		rollback := e.State == boxv1.ShowtimeRollingBack
		ready, why := r.observeShowtime(ctx, s, e, st, rollback)
		if !ready {
			if why != "" {
				e.Message = why
			}
			if !rollback {
				s.requeueAt(e.ChangedAt.Add(r.readyDeadline(s.ro)))
			}
			continue
		}
		if rollback {
			e.State, e.Message = boxv1.ShowtimeRolledBack, "back on "+imagesString(r.fromImages(e))
			continue
		}
		e.State, e.Message = boxv1.ShowtimeBaking, "ready on the target"
		if s.ro.Status.Phase == boxv1.RolloutPromoting {
			e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "promoted in full: analysis skipped"
		}
	}
}

// observeShowtime reports whether the showtime runs its wanted images,
// ready; on the way it notes when the shard stopped taking writes and when
// the new shard was ready.
func (r *ShardRolloutReconciler) observeShowtime(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, rollback bool) (bool, string) {
	shardWant, feWant := e.ToShardImage, e.ToFrontendImage
	if rollback {
		shardWant, feWant = r.orDefault(e.FromShardImage), r.orDefault(e.FromFrontendImage)
	}
	if e.ToShardImage != "" {
		ready, why := r.observeShard(ctx, s, e, st, shardWant)
		if !ready {
			return false, why
		}
	}
	if e.ToFrontendImage != "" {
		dep := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.FrontendName()}, dep); err != nil {
			return false, "front end not found: " + err.Error()
		}
		if !deploymentRolledOut(dep, feWant) {
			return false, r.describeFrontendRollout(ctx, s, e, st, dep, feWant)
		}
	}
	return true, ""
}

// observeShard follows the shard pod. The write pause starts at the earliest
// sign that the old shard stopped taking writes (its deletion was requested,
// it went not ready, it is gone) and ends when the new pod is Ready, both
// from the pod's own timestamps where there are any.
func (r *ShardRolloutReconciler) observeShard(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, want string) (bool, string) {
	if st.Replicated() {
		return r.observeMembers(ctx, s, e, st, want, e.State == boxv1.ShowtimeRollingBack)
	}
	pod := &corev1.Pod{}
	err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.ShardPodName(0)}, pod)
	notePause := func(t time.Time) {
		if e.ChangedAt != nil && t.Before(e.ChangedAt.Time) {
			t = e.ChangedAt.Time
		}
		if e.PauseStartedAt == nil || t.Before(e.PauseStartedAt.Time) {
			e.PauseStartedAt = ptr.To(metav1.NewTime(t))
		}
	}
	if apierrors.IsNotFound(err) {
		notePause(s.now)
		return false, "shard pod gone; waiting for the new one"
	}
	if err != nil {
		return false, "reading shard pod: " + err.Error()
	}
	image := shardContainerImage(pod)
	readyCond := podReadyCondition(pod)
	if image != want || !pod.DeletionTimestamp.IsZero() {
		switch {
		case !pod.DeletionTimestamp.IsZero():
			t := pod.DeletionTimestamp.Time
			if pod.DeletionGracePeriodSeconds != nil {
				t = t.Add(-time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
			}
			notePause(t)
		case readyCond == nil || readyCond.Status != corev1.ConditionTrue:
			if readyCond != nil && !readyCond.LastTransitionTime.IsZero() {
				notePause(readyCond.LastTransitionTime.Time)
			} else {
				notePause(s.now)
			}
		}
		return false, "shard restarting onto " + want
	}
	if readyCond == nil || readyCond.Status != corev1.ConditionTrue {
		// The new pod: the old one was gone before it was created.
		notePause(pod.CreationTimestamp.Time)
		msg := canary.DescribeNewPod(pod, "shard", "replaying its log")
		if reason, _, stuck := canary.StartProblem(pod); stuck && e.Message != msg {
			s.event(s.ro, st, corev1.EventTypeWarning, "PodNotStarting", "Observe", "%s: %s", entryKey(e), msg)
			s.event(st, s.ro, corev1.EventTypeWarning, "RolloutPodNotStarting", "Observe", "ShardRollout %s: %s (%s)", s.ro.Name, msg, reason)
		}
		return false, msg
	}
	if e.ReadyAt == nil {
		readyAt := readyCond.LastTransitionTime.Time
		if readyAt.IsZero() || readyAt.After(s.now) {
			readyAt = s.now
		}
		if e.PauseStartedAt == nil {
			notePause(pod.CreationTimestamp.Time)
		}
		if readyAt.Before(e.PauseStartedAt.Time) {
			readyAt = e.PauseStartedAt.Time
		}
		e.ReadyAt = ptr.To(metav1.NewTime(readyAt))
		e.WritePause = readyAt.Sub(e.PauseStartedAt.Time).String()
	}
	return true, ""
}

func deploymentRolledOut(dep *appsv1.Deployment, image string) bool {
	found := false
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Image == image {
			found = true
		}
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	return found && dep.Status.ObservedGeneration >= dep.Generation &&
		dep.Status.UpdatedReplicas >= want && dep.Status.AvailableReplicas >= want &&
		dep.Status.Replicas == dep.Status.UpdatedReplicas
}

func shardContainerImage(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == "shard" {
			return c.Image
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Image
	}
	return ""
}

func podRestarts(pod *corev1.Pod) int32 {
	var n int32
	for _, c := range pod.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// readyShardPod is the showtime's shard pod when it is ready with an IP: of
// a replicated shard, its leader (the member that takes the writes).
func (r *ShardRolloutReconciler) readyShardPod(ctx context.Context, st *boxv1.Showtime) (*corev1.Pod, bool) {
	if st.Replicated() {
		return r.leaderPod(ctx, st)
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.ShardPodName(0)}, pod); err != nil {
		return nil, false
	}
	if !podServing(pod) || pod.Status.PodIP == "" {
		return nil, false
	}
	return pod, true
}

func (r *ShardRolloutReconciler) token(ctx context.Context, st *boxv1.Showtime) (string, error) {
	sec := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.TokenSecretName()}, sec); err != nil {
		return "", err
	}
	return string(sec.Data[boxv1.TokenSecretKey]), nil
}
